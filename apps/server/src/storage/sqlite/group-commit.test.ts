/**
 * Group commit in the SQLite event store: concurrent appends share one transaction, each
 * plan sees the state the previous ones left, and a failing plan is undone alone, whether
 * it failed before writing (the common case: no savepoints) or after (the batch runs again
 * with a savepoint per plan).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMixedBatch, newEvent as ev } from '../../../test/helpers/group-commit.js';
import { SqliteStorage } from './sqlite-storage.js';

let dir: string;
let storage: SqliteStorage;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'axon-group-commit-'));
  storage = new SqliteStorage({ file: path.join(dir, 'db.sqlite'), synchronous: 'NORMAL' });
});
afterAll(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite group commit', () => {
  it('a plan failing after it wrote is undone alone; the others keep their order and state', async () => {
    const r1 = '!one:x';
    const r2 = '!two:x';
    const { start, results } = await appendMixedBatch(storage.events, r1, r2);
    expect((results[2] as PromiseRejectedResult).reason).toEqual(new Error('plan failed'));
    // the next append sees what was committed, not what the failed plan left in memory
    const next = await storage.events.appendEvents(r1, (tx) => {
      expect(tx.state.get('m.room.topic', '')?.content).toEqual({ topic: 'first' });
      tx.append(ev(r1, 'm.room.message', { body: 'after' }));
    });
    expect(next.events[0]).toMatchObject({ stream_ordering: start + 5, topological_ordering: 4 });
  });

  it('a plan refusing before it writes costs the others no second run', async () => {
    const room = '!three:x';
    await storage.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.create', { creator: '@u:x' }, '')); });
    const runs = [0, 0, 0];
    const results = await Promise.allSettled([0, 1, 2].map((i) => storage.events.appendEvents(room, (tx) => {
      runs[i]!++;
      if (i === 1) throw new Error('refused');
      tx.append(ev(room, 'm.room.message', { i }));
    })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(runs).toEqual([1, 1, 1]);
  });
});
