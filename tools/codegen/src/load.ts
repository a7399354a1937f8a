import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { SpecError } from './errors.js';
import type { Json } from './json.js';

/** Every file under `dir`, recursively, as sorted paths relative to `dir` with '/' separators. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(dir, child)).isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk('');
  return out;
}

/**
 * Parses a YAML or JSON file (JSON is YAML). Extension-less event schema files are
 * JSON too. Errors name the file and the line.
 */
export function loadDocument(specRoot: string, file: string): Json {
  const rel = path.relative(specRoot, file).split(path.sep).join('/');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new SpecError(rel, '', 'file not found');
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const problem = doc.errors[0];
  if (problem) {
    const where = problem.linePos?.[0];
    throw new SpecError(rel, where ? `line ${where.line}, column ${where.col}` : '', `invalid YAML/JSON: ${problem.message.split('\n')[0]}`);
  }
  return doc.toJS({ maxAliasCount: 100 }) as Json;
}
