/**
 * Group commit in the PostgreSQL event store: concurrent appends in one process share one
 * transaction, each plan sees the state the previous ones left, a failing plan is rolled
 * back alone, txnIds deduplicate within a batch and across stores (processes), and the
 * stream has no gaps. The usual batch (rooms in the cache, plans that all write) commits in
 * one round trip, and whatever that round trip cannot vouch for (state another store
 * changed, a refusal, a txnId already committed) takes the locked path. Runs in the
 * PostgreSQL project only.
 */
import pg from 'pg';
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

  it('a batch in cached rooms commits in one round trip, numbered from the stream\'s and each room\'s head', async () => {
    const r1 = '!four:x';
    const r2 = '!five:x';
    for (const r of [r1, r2]) await a.events.appendEvents(r, (tx) => { tx.append(ev(r, 'm.room.create', { creator: '@u:x' }, '')); });
    // another store moves the stream and r1's depth without touching state
    await b.events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.message', { body: 'from b' })); });
    const start = await a.events.currentStreamOrdering();
    const before = { ...a.events.batchCounts };
    const out = await Promise.all([
      a.events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.message', { body: 'a\uffff0b' })); }, { txn: { token: 'tok4', txnId: 'x1' } }),
      a.events.appendEvents(r2, (tx) => { tx.append(ev(r2, 'm.room.topic', { topic: 'two' }, '')); }),
      a.events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.message', { body: 'second' })); }),
    ]);
    expect(a.events.batchCounts).toEqual({ oneRoundTrip: before.oneRoundTrip + 1, locked: before.locked });
    expect(out.map((r) => r.events[0]!.stream_ordering)).toEqual([start + 1, start + 2, start + 3]);
    expect(out.map((r) => r.events[0]!.topological_ordering)).toEqual([3, 2, 4]);
    // what came back is what was stored, strings escaped as every other write escapes them
    for (const r of out) expect(await b.events.getEvent(r.events[0]!.event_id)).toEqual(r.events[0]);
    expect((await b.events.getEvent(out[0]!.events[0]!.event_id))?.content).toEqual({ body: 'a\uffff0b' });
    // the state change reached the database, its version and this store's cache
    expect((await b.events.getCurrentState(r2)).get('m.room.topic', '')?.content).toEqual({ topic: 'two' });
    expect((await a.events.getCurrentState(r2)).get('m.room.topic', '')?.event_id).toBe(out[1]!.events[0]!.event_id);
    expect((await a.events.getMembership(r2, '@u:x'))).toBeNull();
    const retry = await b.events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.message', { body: 'dup' })); }, { txn: { token: 'tok4', txnId: 'x1' } });
    expect(retry).toMatchObject({ deduplicated: true, events: [{ event_id: out[0]!.events[0]!.event_id }] });
  });

  it('state another store changed, or a refusal, sends the batch down the locked path to plan again', async () => {
    const room = '!six:x';
    await a.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.create', { creator: '@u:x' }, '')); });
    await b.events.getCurrentState(room);
    // a changes the state b has cached
    await a.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.topic', { topic: 'new' }, '')); });
    const before = { ...b.events.batchCounts };
    const seen: unknown[] = [];
    const res = await b.events.appendEvents(room, (tx) => {
      seen.push(tx.state.get('m.room.topic', '')?.content);
      tx.append(ev(room, 'm.room.message', { body: 'after the topic' }));
    });
    expect(seen.at(-1)).toEqual({ topic: 'new' });
    expect(b.events.batchCounts).toEqual({ oneRoundTrip: before.oneRoundTrip, locked: before.locked + 1 });
    expect(res.events[0]!.topological_ordering).toBe(3);

    // a refusal made against a stale cache is not the answer: the plan runs again on fresh state
    await b.events.getCurrentState(room);
    await a.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.member', { membership: 'join' }, '@v:x')); });
    const before2 = { ...b.events.batchCounts };
    const [joined, other] = await Promise.all([
      b.events.appendEvents(room, (tx) => {
        if (tx.state.get('m.room.member', '@v:x') === undefined) throw new Error('@v:x is not in the room');
        tx.append(ev(room, 'm.room.message', { body: 'from v' }));
      }),
      b.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.message', { body: 'beside it' })); }),
    ]);
    expect(joined.events[0]!.content).toEqual({ body: 'from v' });
    expect(other.events[0]!.stream_ordering).toBe(joined.events[0]!.stream_ordering + 1);
    expect(b.events.batchCounts.locked).toBe(before2.locked + 1);
  });

  it('a txnId retry whose plan now refuses still gets the event its first attempt stored', async () => {
    const room = '!seven:x';
    await a.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.create', { creator: '@u:x' }, '')); });
    const first = await a.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.message', { body: 'once' })); }, { txn: { token: 'tok7', txnId: 'r1' } });
    // the retry's checks would fail now (its sender has left, say): the stored event is still the answer
    const retry = await a.events.appendEvents(room, () => { throw new Error('not in the room any more'); }, { txn: { token: 'tok7', txnId: 'r1' } });
    expect(retry).toMatchObject({ deduplicated: true, events: [{ event_id: first.events[0]!.event_id }] });
  });

  it('a connection lost after the one-round-trip commit: the batch is not stored twice', async () => {
    const room = '!eight:x';
    await a.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.create', { creator: '@u:x' }, '')); });
    await a.events.getCurrentState(room);
    const pool = (a.events as unknown as { pool: { query: (...args: unknown[]) => Promise<unknown> } }).pool;
    const query = pool.query;
    pool.query = async (...args: unknown[]) => {
      if ((args[0] as { name?: string }).name !== 'axon_append_batch') return query.apply(pool, args);
      pool.query = query;
      await query.apply(pool, args);
      throw new Error('Connection terminated unexpectedly');
    };
    const before = { ...a.events.batchCounts };
    const res = await a.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.message', { body: 'just once' })); });
    expect(pool.query).toBe(query);
    expect(a.events.batchCounts).toEqual({ oneRoundTrip: before.oneRoundTrip + 1, locked: before.locked });
    const timeline = await b.events.getLatestEvents(room, Number.MAX_SAFE_INTEGER, 10);
    expect(timeline.filter((e) => e.type === 'm.room.message').map((e) => e.content)).toEqual([{ body: 'just once' }]);
    expect(timeline.at(-1)).toEqual(res.events[0]);
  });

  it('each room\'s kept depth is its highest topological_ordering, whichever path wrote its events', async () => {
    const room = '!nine:x';
    await a.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.create', { creator: '@u:x' }, '')); });
    await a.events.getCurrentState(room);
    await b.events.getCurrentState(room);
    // both stores, both paths: a's cache goes stale when b changes the state
    const sends = Array.from({ length: 24 }, (_, i) => (i % 3 ? a : b).events.appendEvents(room, (tx) => {
      tx.append(i % 5 === 0 ? ev(room, 'm.room.topic', { topic: `t${i}` }, '') : ev(room, 'm.room.message', { i }));
    }));
    await Promise.all(sends);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const kept = await client.query<{ room_id: string; depth: string }>('SELECT room_id, depth FROM room_depths ORDER BY room_id');
      const highest = await client.query<{ room_id: string; depth: string }>(
        'SELECT room_id, max(topological_ordering) AS depth FROM events GROUP BY room_id ORDER BY room_id');
      expect(kept.rows.length).toBeGreaterThanOrEqual(9);
      expect(kept.rows).toEqual(highest.rows);
      const depths = await client.query<{ d: string }>('SELECT topological_ordering AS d FROM events WHERE room_id = $1 ORDER BY d', [room]);
      expect(depths.rows.map((r) => Number(r.d))).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    } finally {
      await client.end();
    }
  });
});
