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
import type { NewEvent } from '../events.js';
import { SqliteStorage } from './sqlite-storage.js';

let dir: string;
let storage: SqliteStorage;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'axon-group-commit-'));
  storage = new SqliteStorage({ file: path.join(dir, 'db.sqlite'), synchronous: 'NORMAL' });
});
afterAll(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

const ev = (roomId: string, type: string, content: Record<string, unknown>, stateKey?: string): NewEvent => ({
  event_id: `$e${++n}`, room_id: roomId, type, sender: '@u:x', content, origin_server_ts: n,
  ...(stateKey !== undefined ? { state_key: stateKey } : {}),
} as NewEvent);

describe('SQLite group commit', () => {
  it('a plan failing after it wrote is undone alone; the others keep their order and state', async () => {
    const r1 = '!one:x';
    const r2 = '!two:x';
    const start = await storage.events.currentStreamOrdering();
    const results = await Promise.allSettled([
      storage.events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.create', { creator: '@u:x' }, '')); }),
      storage.events.appendEvents(r1, (tx) => {
        expect(tx.state.get('m.room.create', '')).toBeDefined();
        tx.append(ev(r1, 'm.room.topic', { topic: 'first' }, ''));
      }),
      storage.events.appendEvents(r1, (tx) => {
        tx.append(ev(r1, 'm.room.topic', { topic: 'doomed' }, ''));
        throw new Error('plan failed');
      }),
      storage.events.appendEvents(r2, (tx) => { tx.append(ev(r2, 'm.room.create', { creator: '@u:x' }, '')); }),
      storage.events.appendEvents(r1, (tx) => {
        expect(tx.state.get('m.room.topic', '')?.content).toEqual({ topic: 'first' });
        tx.append(ev(r1, 'm.room.message', { body: 'hi' }));
      }, { txn: { token: 'tok', txnId: 't1' } }),
      storage.events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.message', { body: 'again' })); }, { txn: { token: 'tok', txnId: 't1' } }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toEqual(new Error('plan failed'));
    const ok = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const positions = ok.flatMap((r) => (r && !r.deduplicated ? r.events.map((e) => e.stream_ordering) : []));
    expect(positions).toEqual([start + 1, start + 2, start + 3, start + 4]);
    expect(ok[5]!.deduplicated).toBe(true);
    expect(ok[5]!.events[0]!.event_id).toBe(ok[4]!.events[0]!.event_id);
    expect(await storage.events.currentStreamOrdering()).toBe(start + 4);
    expect((await storage.events.getCurrentState(r1)).get('m.room.topic', '')?.content).toEqual({ topic: 'first' });
    expect(ok[1]!.events[0]!.topological_ordering).toBe(2);
    expect(ok[4]!.events[0]!.topological_ordering).toBe(3);
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
