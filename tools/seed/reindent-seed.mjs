// Restores the seed's swagger from the scraped page: the page lost every line's indentation
// and mixed in git-blame noise. The run-length table below is the indentation of the
// original old_sync.yaml (matrix-doc 6c66bfc), so the output is byte-identical to it.
// Usage: node tools/seed/reindent-seed.mjs <seed.txt> > spec/api/client-server/old_sync.yaml
import { readFileSync } from 'node:fs';

const INDENT = '0x2,2x2,0x2,2x2,0x2,2,0,2,0,2,4x4,0,2,4,6x2,8x2,6,8,6,8,10x3,12x2,10x2,8,10x5,6,8,10x2,12,14,16x3,18,20x2,24x2,20x6,18,16,14,10,12x2,14,16x2,18x2,14,16x2,18x2,14,16x3,18x3,20,8,10,2,4,6x2,8x2,6,8,6,8,10x5,8,10x3,12x4,10x2,6,8,10x2,12,14,18x2,22,26,30x5,26x2,22,18x2,20,22x2,24,22,20,18x2,22,26x2,30,34,38x2,42x2,38x6,34x2,38x2,42x2,38x6,34,30x3,26x3,30,34x2,38,34x7,30x2,34x2,38x3,34x8,30x2,34x2,38,34x7,30x2,34x2,38x3,34x8,30x2,34x2,38x2,42x2,38x6,42,38x2,34x7,30,26x3,28,30x2,28x2,30x2,32,30,28,26,22,18,14,10,12x2,14,16x2,18x3,14,16x3,18x3,20,14,16x2,18x3,20,22x2,20,22x3,20,24x4,26,20,22x4,24,26x2,28x2,24,26x2,28x2,24,26x2,28x5,26,28x3,30,22,20,22x2,24x4,22,24x3,26,20,22x3,24x2,20,22x2,24x2,22,24x3,26,18,12,8,10,2,4,6x2,8x2,6,8,6,8,10x5,6,8,10x2,12,14,16,18x2,16x5,14,10,12,14,8,10';

const indents = INDENT.split(',').flatMap((t) => {
  const [n, r = '1'] = t.split('x');
  return Array(Number(r)).fill(Number(n));
});
const raw = readFileSync(process.argv[2], 'utf8').split('\n');
const kept = raw
  .slice(raw.indexOf("swagger: '2.0'"))
  .filter((l) => !/^\|+$/.test(l) && !/^\d+ (years?|months?|days?) ago$/.test(l) && l !== '');
if (kept.length !== indents.length) throw new Error(`expected ${indents.length} lines, got ${kept.length}`);
process.stdout.write(kept.map((l, i) => ' '.repeat(indents[i]) + l).join('\n') + '\n');
