import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { buildModel } from './bundle.js';
import { emitApiTypes, emitEventTypes, emitOperationTable, emitSchemaBundle } from './emit.js';

/** File name (inside the output dir) -> contents. */
export async function generate(specRoot: string): Promise<Map<string, string>> {
  const model = buildModel(specRoot);
  return new Map([
    ['api.ts', await emitApiTypes(model)],
    ['events.ts', await emitEventTypes(model)],
    ['operations.ts', emitOperationTable(model)],
    ['schemas.json', emitSchemaBundle(model)],
  ]);
}

export function writeOutput(outDir: string, files: Map<string, string>): string[] {
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of files) {
    const file = path.join(outDir, name);
    if (existsSync(file) && readFileSync(file, 'utf8') === text) continue;
    writeFileSync(file, text);
    written.push(name);
  }
  return written;
}

/** The output files that differ from what is on disk. */
export function staleFiles(outDir: string, files: Map<string, string>): string[] {
  return [...files].filter(([name, text]) => {
    const file = path.join(outDir, name);
    return !existsSync(file) || readFileSync(file, 'utf8') !== text;
  }).map(([name]) => name);
}
