/**
 * Group commit in the PostgreSQL event store: concurrent appends in one process share one
 * transaction, each plan sees the state the previous ones left, a failing plan is rolled
 * back alone, txnIds deduplicate within a batch and across stores (processes), and the
 * stream has no gaps. Runs in the PostgreSQL project only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgStorage } from '../../src/storage/postgres/pg-storage.js';
import { appendMixedBatch, newEvent as ev } from '../helpers/group-commit.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

let db: TestDatabase;
let a: PgStorage;
let b: PgStorage;

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

describe('PostgreSQL group commit', () => {
  it('batches concurrent appends: state carried between plans, a failing plan alone rolled back, no gaps', async () => {
    const r1 = '!one:x';
    const r2 = '!two:x';
    const { ok } = await appendMixedBatch(a.events, r1, r2);
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
