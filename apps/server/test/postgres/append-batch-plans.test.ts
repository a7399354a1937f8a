/**
 * axon_append_batch keeps its statements' plans for as long as its connection lives, and a
 * pool connection lives long. A room's depth must stay an index lookup of one entry when
 * the plans were made while events was small and the room has since grown: a kept plan
 * that read the whole room through (room_id, stream_ordering) made every batch slower than
 * the one before. Since migration 9 the depth comes from the room's row in room_depths, not
 * from events at all. Counted in index tuples fetched, not in time. Runs in the PostgreSQL
 * project only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/storage/postgres/pg-db.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  await migrate(pool);
  await pool.end();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
}, 60_000);

afterAll(async () => {
  await client?.end();
  await db?.drop();
}, 30_000);

const ROOM = '!grown:x';
let n = 0;

/** One batch of one message into ROOM, as PgEventStore sends it. */
async function appendOne(): Promise<{ s: number; d: Record<string, number> }> {
  n += 1;
  const batch = {
    rooms: [[ROOM, 1, false]],
    events: [[1, `$plan${n}`, ROOM, 'm.room.message', null, '@u:x', '{}', n, 1, null, null, null, null, null, null]],
    state: [], members: [], txns: [],
  };
  const res = await client.query<{ r: { s: number; d: Record<string, number> } }>('SELECT axon_append_batch($1::jsonb) AS r', [JSON.stringify(batch)]);
  return res.rows[0]!.r;
}

/** Index tuples fetched from events so far, this session's counts flushed first. */
async function eventsFetched(): Promise<number> {
  await client.query('SELECT pg_stat_force_next_flush()');
  // a statement of its own: the flush happens at the end of the previous transaction
  await client.query('SELECT 1');
  const res = await client.query<{ f: string }>("SELECT idx_tup_fetch AS f FROM pg_stat_user_tables WHERE relname = 'events'");
  return Number(res.rows[0]!.f);
}

describe('axon_append_batch plans', () => {
  it('reads a grown room\'s depth from one index entry, with plans made while the room was small', async () => {
    await client.query("INSERT INTO room_state_versions (room_id, version) VALUES ($1, 1)", [ROOM]);
    for (let i = 0; i < 3; i++) await appendOne();
    await client.query('ANALYZE events');
    // past the plan cache's five custom plans: what runs from here on is the kept plan
    for (let i = 0; i < 8; i++) await appendOne();
    const before = await appendOne();
    await client.query(`INSERT INTO events (stream_ordering, event_id, room_id, type, sender, content, origin_server_ts, topological_ordering)
      SELECT $1::bigint + i, '$bulk' || i, $2, 'm.room.message', '@u:x', '{}', 0, $3::bigint + i FROM generate_series(1, 50000) i`,
    [before.s + 1, ROOM, before.d[ROOM]! + 1]);
    // as every append moves the room's kept depth (migration 9)
    await client.query('UPDATE room_depths SET depth = depth + 50000 WHERE room_id = $1', [ROOM]);
    const fetchedBefore = await eventsFetched();
    const after = await appendOne();
    const fetched = (await eventsFetched()) - fetchedBefore;
    expect(after.s).toBe(before.s + 1 + 50_000);
    expect(after.d[ROOM]).toBe(before.d[ROOM]! + 1 + 50_000);
    // the stream's head and the room's: one entry each, and a few more at most
    expect(fetched).toBeLessThan(100);
  });
});
