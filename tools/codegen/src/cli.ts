#!/usr/bin/env node
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpecError } from './errors.js';
import { generate, staleFiles, writeOutput } from './generate.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? path.resolve(args[i + 1]!) : fallback;
}

async function main(args: string[]): Promise<number> {
  const specRoot = option(args, '--spec', path.join(repoRoot, 'spec'));
  const outDir = option(args, '--out', path.join(repoRoot, 'packages/contract/src/generated'));
  const files = await generate(specRoot);
  const shown = path.relative(process.cwd(), outDir) || '.';
  if (args.includes('--check')) {
    const stale = staleFiles(outDir, files);
    if (stale.length === 0) {
      console.log(`codegen: ${shown} is up to date`);
      return 0;
    }
    console.error(`codegen: stale generated files (run \`pnpm codegen\`):\n${stale.map((f) => `  ${path.join(shown, f)}`).join('\n')}`);
    return 1;
  }
  const written = writeOutput(outDir, files);
  console.log(written.length ? `codegen: wrote ${written.map((f) => path.join(shown, f)).join(', ')}` : `codegen: ${shown} already up to date`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof SpecError ? `codegen: spec error: ${err.message}` : err);
    process.exit(2);
  },
);
