/**
 * Migration 9 keeps each room's depth in room_depths: on a database that already holds
 * events, every room gets its highest topological_ordering, and the next one-call append
 * numbers from there. Runs in the PostgreSQL project only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresMigrations } from '../../src/storage/migrations/postgres.js';
import { migrate } from '../../src/storage/postgres/pg-db.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await db?.drop();
}, 30_000);

describe('migration 9: room depths', () => {
  it('fills each room\'s depth from the events already stored, and appends go on from it', async () => {
    expect(await migrate(pool, postgresMigrations.filter((m) => m.version <= 8))).toBe(8);
    await pool.query(`INSERT INTO events (stream_ordering, event_id, room_id, type, sender, content, origin_server_ts, topological_ordering)
      SELECT i, '$old' || i, CASE WHEN i % 3 = 0 THEN '!a:x' ELSE '!b:x' END, 'm.room.message', '@u:x', '{}', 0, i FROM generate_series(1, 30) i`);
    expect(await migrate(pool)).toBe(postgresMigrations.at(-1)!.version);
    const kept = await pool.query<{ room_id: string; depth: string }>('SELECT room_id, depth FROM room_depths ORDER BY room_id');
    expect(kept.rows).toEqual([{ room_id: '!a:x', depth: '30' }, { room_id: '!b:x', depth: '29' }]);
    const batch = {
      rooms: [['!a:x', 0, false], ['!c:x', 0, false]],
      events: [[1, '$new1', '!a:x', 'm.room.message', null, '@u:x', '{}', 1, 1, null, null, null, null, null, null],
        [2, '$new2', '!c:x', 'm.room.message', null, '@u:x', '{}', 1, 1, null, null, null, null, null, null],
        [3, '$new3', '!a:x', 'm.room.message', null, '@u:x', '{}', 1, 2, null, null, null, null, null, null]],
      state: [], members: [], txns: [],
    };
    const res = await pool.query<{ r: { s: number; d: Record<string, number> } }>('SELECT axon_append_batch($1::jsonb) AS r', [JSON.stringify(batch)]);
    expect(res.rows[0]!.r).toEqual({ s: 30, d: { '!a:x': 30, '!c:x': 0 } });
    const stored = await pool.query<{ event_id: string; topological_ordering: string }>(
      "SELECT event_id, topological_ordering FROM events WHERE event_id LIKE '$new%' ORDER BY event_id");
    expect(stored.rows.map((r) => [r.event_id, Number(r.topological_ordering)])).toEqual([['$new1', 31], ['$new2', 1], ['$new3', 32]]);
    const after = await pool.query<{ room_id: string; depth: string }>('SELECT room_id, depth FROM room_depths ORDER BY room_id');
    expect(after.rows).toEqual([{ room_id: '!a:x', depth: '32' }, { room_id: '!b:x', depth: '29' }, { room_id: '!c:x', depth: '1' }]);
  });
});
