/**
 * Group commit in the PostgreSQL event store: concurrent appends in one process share one
 * transaction, each plan sees the state the previous ones left, a failing plan is rolled
 * back alone, txnIds deduplicate within a batch and across stores (processes), and the
 * stream has no gaps. Runs in the PostgreSQL project only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/storage/events.js';
import { PgStorage } from '../../src/storage/postgres/pg-storage.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

let db: TestDatabase;
let a: PgStorage;
let b: PgStorage;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  a = await PgStorage.open({ url: db.url, poolSize: 4 });
  b = await PgStorage.open({ url: db.url, poolSize: 4 });
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
}, 30_000);

const ev = (roomId: string, type: string, content: Record<string, unknown>, stateKey?: string): NewEvent => ({
  event_id: `$e${++n}`, room_id: roomId, type, sender: '@u:x', content, origin_server_ts: n,
  ...(stateKey !== undefined ? { state_key: stateKey } : {}),
} as NewEvent);

describe('PostgreSQL group commit', () => {
  it('batches concurrent appends: state carried between plans, a failing plan alone rolled back, no gaps', async () => {
    const r1 = '!one:x';
    const r2 = '!two:x';
    const start = await a.events.currentStreamOrdering();
    const results = await Promise.allSettled([
      a.events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.create', { creator: '@u:x' }, '')); }),
      a.events.appendEvents(r1, (tx) => {
        expect(tx.state.get('m.room.create', '')).toBeDefined();
        tx.append(ev(r1, 'm.room.topic', { topic: 'first' }, ''));
      }),
      a.events.appendEvents(r1, (tx) => {
        tx.append(ev(r1, 'm.room.topic', { topic: 'doomed' }, ''));
        throw new Error('plan failed');
      }),
      a.events.appendEvents(r2, (tx) => { tx.append(ev(r2, 'm.room.create', { creator: '@u:x' }, '')); }),
      a.events.appendEvents(r1, (tx) => {
        expect(tx.state.get('m.room.topic', '')?.content).toEqual({ topic: 'first' });
        tx.append(ev(r1, 'm.room.message', { body: 'hi' }));
      }, { txn: { token: 'tok', txnId: 't1' } }),
      a.events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.message', { body: 'again' })); }, { txn: { token: 'tok', txnId: 't1' } }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    const ok = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const positions = ok.flatMap((r) => (r && !r.deduplicated ? r.events.map((e) => e.stream_ordering) : []));
    expect(positions).toEqual([start + 1, start + 2, start + 3, start + 4]);
    expect(ok[5]!.deduplicated).toBe(true);
    expect(ok[5]!.events[0]!.event_id).toBe(ok[4]!.events[0]!.event_id);
    expect(await a.events.currentStreamOrdering()).toBe(start + 4);
    expect((await a.events.getCurrentState(r1)).get('m.room.topic', '')?.content).toEqual({ topic: 'first' });
    const topic = ok[1]!.events[0]!;
    expect(topic.topological_ordering).toBe(2);
    expect(ok[4]!.events[0]!.topological_ordering).toBe(3);
    // the other "process" sees the batch's state and deduplicates the txn too
    expect((await b.events.getCurrentState(r1)).get('m.room.topic', '')?.content).toEqual({ topic: 'first' });
    const retry = await b.events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.message', { body: 'x' })); }, { txn: { token: 'tok', txnId: 't1' } });
    expect(retry).toMatchObject({ deduplicated: true, events: [{ event_id: ok[4]!.events[0]!.event_id }] });
  });

  it('two stores appending concurrently: one order, no gaps, no duplicates', async () => {
    const room = '!three:x';
    await a.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.create', { creator: '@u:x' }, '')); });
    const start = await a.events.currentStreamOrdering();
    const sends = Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).events.appendEvents(room,
      (tx) => { tx.append(ev(room, 'm.room.message', { i })); }, { txn: { token: `t${i % 2}`, txnId: `m${i}` } }));
    const out = await Promise.all(sends);
    const positions = out.map((r) => r.events[0]!.stream_ordering).sort((x, y) => x - y);
    expect(positions).toEqual(Array.from({ length: 60 }, (_, i) => start + 1 + i));
    const timeline = await a.events.getLatestEvents(room, Number.MAX_SAFE_INTEGER, 100);
    expect(timeline.map((e) => e.topological_ordering)).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
  });
});
