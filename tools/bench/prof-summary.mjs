// Summarises a V8 .cpuprofile (from `node --cpu-prof`, or `pnpm bench --cpu-prof DIR`):
// self and total time per function, and self time per package / area.
// Usage: node tools/bench/prof-summary.mjs FILE.cpuprofile [topN] [FUNCTION]
// With FUNCTION, only samples under a frame of that name count (e.g. initialSync).
import { readFileSync } from 'node:fs';

const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const topN = Number(process.argv[3] ?? 30);
const under = process.argv[4];
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const time = new Map();
for (let i = 0; i < p.samples.length; i++) time.set(p.samples[i], (time.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const key = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*\/(apps|node_modules|packages)\//, '$1/')}:${n.callFrame.lineNumber}`;
function area(n) {
  const url = n.callFrame.url;
  const name = n.callFrame.functionName;
  if (!url) return name.startsWith('(') ? name : `native ${name}`;
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `pkg ${pkg[1]}`;
  if (url.startsWith('node:')) return `node ${url.slice(5).replace(/^internal\//, '').split('/')[0]}`;
  const app = /(apps\/server\/dist|packages\/[^/]+\/dist)\/(.*?)(\/[^/]+)?\.js$/.exec(url);
  if (app) return `${app[1].startsWith('apps') ? 'axon' : app[1]} ${app[2]}`;
  return url;
}
const selfT = new Map();
const totalT = new Map();
const areaT = new Map();
let total = 0;
let idle = 0;
const isUnder = (id) => {
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) if (byId.get(cur).callFrame.functionName === under) return true;
  return false;
};
for (const [id, t] of time) {
  const n = byId.get(id);
  if (under && !isUnder(id)) continue;
  total += t;
  if (n.callFrame.functionName === '(idle)') idle += t;
  selfT.set(key(n), (selfT.get(key(n)) ?? 0) + t);
  areaT.set(area(n), (areaT.get(area(n)) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = key(byId.get(cur));
    if (!seen.has(k)) { totalT.set(k, (totalT.get(k) ?? 0) + t); seen.add(k); }
  }
}
const busy = total - idle;
const top = (m, n) => [...m].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, n)
  .map(([k, t]) => `${(100 * t / busy).toFixed(1).padStart(5)}% ${k}`).join('\n');
console.log(`profile: ${(total / 1e6).toFixed(1)} s, idle ${(100 * idle / total).toFixed(0)}%; percentages below are of busy time`);
console.log(`\nSELF BY AREA\n${top(areaT, 25)}\n\nSELF\n${top(selfT, topN)}\n\nTOTAL\n${top(totalT, topN + 20)}`);
