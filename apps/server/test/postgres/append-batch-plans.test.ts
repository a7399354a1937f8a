/**
 * axon_append_batch keeps its statements' plans for as long as its connection lives, and a
 * pool connection lives long. A room's depth must stay an index lookup of one entry when
 * the plans were made while events was small and the room has since grown: a kept plan
 * that read the whole room through (room_id, stream_ordering) made every batch slower than
 * the one before. Since migration 9 the depth comes from the room's row in room_depths, not
 * from events at all. Plans made after autovacuum's first statistics (small tables) must
 * not read a table whole either: the stream's head was found by scanning events, and the
 * state-version check hashed all of room_state_versions, until migration 10. Counted in
 * tuples read, not in time. Runs in the PostgreSQL project only.
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

/** Tuples read from a table so far (through its indexes, and by scanning it whole), this session's counts flushed first. */
async function tuplesRead(table: string): Promise<{ fetched: number; scanned: number }> {
  await client.query('SELECT pg_stat_force_next_flush()');
  // a statement of its own: the flush happens at the end of the previous transaction
  await client.query('SELECT 1');
  const res = await client.query<{ f: string | null; s: string | null }>(
    'SELECT idx_tup_fetch AS f, seq_tup_read AS s FROM pg_stat_user_tables WHERE relname = $1', [table]);
  return { fetched: Number(res.rows[0]!.f ?? 0), scanned: Number(res.rows[0]!.s ?? 0) };
}

describe('axon_append_batch plans', () => {
  it('reads a grown room\'s depth from one index entry, with plans made while the room was small', async () => {
    await client.query("INSERT INTO room_state_versions (room_id, version) VALUES ($1, 1)", [ROOM]);
    for (let i = 0; i < 3; i++) await appendOne();
    // statistics of small tables, as autovacuum takes them early in a database's life
    await client.query('ANALYZE events; ANALYZE room_state_versions; ANALYZE room_depths');
    // past the plan cache's five custom plans: what runs from here on is the kept plan
    for (let i = 0; i < 8; i++) await appendOne();
    const before = await appendOne();
    await client.query(`INSERT INTO events (stream_ordering, event_id, room_id, type, sender, content, origin_server_ts, topological_ordering)
      SELECT $1::bigint + i, '$bulk' || i, $2, 'm.room.message', '@u:x', '{}', 0, $3::bigint + i FROM generate_series(1, 50000) i`,
    [before.s + 1, ROOM, before.d[ROOM]! + 1]);
    // as every append moves the room's kept depth (migration 9)
    await client.query('UPDATE room_depths SET depth = depth + 50000 WHERE room_id = $1', [ROOM]);
    // and many rooms, each with its state version
    await client.query("INSERT INTO room_state_versions (room_id, version) SELECT '!other' || i || ':x', 1 FROM generate_series(1, 20000) i");
    const eventsBefore = await tuplesRead('events');
    const versionsBefore = await tuplesRead('room_state_versions');
    const after = await appendOne();
    const eventsAfter = await tuplesRead('events');
    const versionsAfter = await tuplesRead('room_state_versions');
    const fetched = eventsAfter.fetched - eventsBefore.fetched;
    expect(after.s).toBe(before.s + 1 + 50_000);
    expect(after.d[ROOM]).toBe(before.d[ROOM]! + 1 + 50_000);
    // the stream's head and the room's: one entry each, and a few more at most
    expect(fetched).toBeLessThan(100);
    // nothing read whole: not events for the stream's head, not the versions for the check
    expect(eventsAfter.scanned - eventsBefore.scanned).toBe(0);
    expect(versionsAfter.scanned - versionsBefore.scanned).toBe(0);
  });
});
