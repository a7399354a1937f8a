import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const specRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../spec');

export function listFiles(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel)).sort().flatMap((name) => {
    const child = rel ? `${rel}/${name}` : name;
    return statSync(path.join(dir, child)).isDirectory() ? listFiles(dir, child) : [child];
  });
}

export interface ApiExample { file: string; method: string; path: string; status: number; operationId?: string; example: unknown }

/** Every JSON response example in every API file. */
export function responseExamples(): ApiExample[] {
  const out: ApiExample[] = [];
  for (const rel of listFiles(path.join(specRoot, 'api')).filter((f) => f.endsWith('.yaml') && !f.includes('definitions/'))) {
    const doc = parse(readFileSync(path.join(specRoot, 'api', rel), 'utf8')) as {
      paths: Record<string, Record<string, { operationId?: string; responses: Record<string, { examples?: Record<string, string> }> }>>;
    };
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses ?? {})) {
          const text = response.examples?.['application/json'];
          if (text === undefined) continue;
          out.push({ file: rel, method, path: p, status: Number(status), ...(op.operationId ? { operationId: op.operationId } : {}), example: JSON.parse(text) });
        }
      }
    }
  }
  return out;
}
