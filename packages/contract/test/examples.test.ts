import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { operationTable, validateEvent, validateResponse, type OperationId } from '../src/index.js';
import { listFiles, responseExamples, specRoot } from './spec-files.js';

const examplesDir = path.join(specRoot, 'event-schemas/examples');
const eventExamples = listFiles(examplesDir);

function operationIdFor(file: string, method: string, apiPath: string): OperationId {
  const op = operationTable.find((o) => o.file === `api/${file}` && o.method === method && o.path.endsWith(apiPath));
  if (!op) throw new Error(`no operation for ${method} ${apiPath} in ${file}`);
  return op.operationId;
}

describe('event examples', () => {
  it('exist for every event type', () => {
    expect(eventExamples.length).toBeGreaterThanOrEqual(25);
  });

  it.each(eventExamples)('%s validates against its schema', (name) => {
    const event = JSON.parse(readFileSync(path.join(examplesDir, name), "utf8")) as { type: string; content: { msgtype?: string } };
    const expected = name.replace(/#.*$/, '').replace(/^msgtype\//, '');
    if (name.startsWith('msgtype/')) expect(event.content.msgtype).toBe(expected);
    else expect(event.type).toBe(expected);
    expect(validateEvent(event)).toEqual({ ok: true });
  });
});

describe('API response examples', () => {
  const examples = responseExamples();
  const seed = examples.filter((e) => e.file === 'client-server/old_sync.yaml');

  it("include the seed's three", () => {
    expect(seed.map((e) => `${e.method} ${e.path}`)).toEqual(['get /events', 'get /initialSync', 'get /events/{eventId}']);
  });

  it.each(seed.map((e) => [`${e.method} ${e.path}`, e] as const))("the seed's %s example validates against the seed's schema", (_n, e) => {
    expect(validateResponse(operationIdFor(e.file, e.method, e.path), e.status, e.example, { eventSchemas: false })).toEqual({ ok: true });
  });

  const ours = examples.filter((e) => e.file !== 'client-server/old_sync.yaml');
  it.each(ours.map((e) => [`${e.file} ${e.method} ${e.path} ${e.status}`, e] as const))('%s validates, events included', (_n, e) => {
    expect(validateResponse(operationIdFor(e.file, e.method, e.path), e.status, e.example)).toEqual({ ok: true });
  });
});
