import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, it } from 'vitest';

const packages = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('packaging', () => {
  it.each(['contract', 'client'])('@axon/%s has a clean exports map (publint)', async (name) => {
    const pkgDir = path.join(packages, name);
    const { messages, pkg } = await publint({ pkgDir, level: 'suggestion', strict: true });
    expect(messages.map((m) => formatMessage(m, pkg))).toEqual([]);
  });

  it('every entry point of @axon/contract loads by its package name', async () => {
    const root = await import('@axon/contract');
    const events = await import('@axon/contract/events');
    const ops = await import('@axon/contract/operations');
    expect(typeof root.validateEvent).toBe('function');
    expect(events.knownEventTypes).toContain('m.room.member');
    expect(ops.operationTable.length).toBeGreaterThan(50);
  });
});
