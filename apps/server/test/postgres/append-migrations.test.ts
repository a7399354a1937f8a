/**
 * Migration 9, which made the one-call append cheaper, on databases that already hold
 * events. It keeps each room's depth in room_depths: every room gets its highest
 * topological_ordering, and the next one-call append numbers from there. It finds txnIds
 * through events' own columns: a txnId stored before it still deduplicates.
 * Runs in the PostgreSQL project only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresMigrations } from '../../src/storage/migrations/postgres.js';
import { migrate } from '../../src/storage/postgres/pg-db.js';
import { PgStorage } from '../../src/storage/postgres/pg-storage.js';
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

async function freshSchema(upTo: number): Promise<void> {
  await pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  expect(await migrate(pool, postgresMigrations.filter((m) => m.version <= upTo))).toBe(upTo);
}

describe('migration 9', () => {
  it('fills each room\'s depth from the events already stored, and appends go on from it', async () => {
    await freshSchema(8);
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

  it('a txnId stored in event_txns before it still finds its event, and a second append of it fails', async () => {
    await freshSchema(8);
    await pool.query(`INSERT INTO events (stream_ordering, event_id, room_id, type, sender, content, origin_server_ts, topological_ordering, txn_token_hash, txn_id)
      VALUES (1, '$sent', '!r:x', 'm.room.message', '@u:x', '{}', 0, 1, 'tokhash', 'm1'), (2, '$plain', '!r:x', 'm.room.message', '@u:x', '{}', 0, 2, NULL, NULL)`);
    await pool.query("INSERT INTO event_txns (token_hash, txn_id, event_id, created_ts) VALUES ('tokhash', 'm1', '$sent', 0)");
    await migrate(pool);
    expect((await pool.query("SELECT to_regclass('event_txns') AS t")).rows[0].t).toBeNull();
    const storage = await PgStorage.open({ url: db.url, poolSize: 2 });
    try {
      expect(await storage.events.getEventIdForTxn('tokhash', 'm1')).toBe('$sent');
      expect(await storage.events.getEventIdForTxn('tokhash', 'm2')).toBeNull();
      const batch = {
        rooms: [['!r:x', 0, false]],
        events: [[1, '$again', '!r:x', 'm.room.message', null, '@u:x', '{}', 1, 1, null, null, null, null, 'tokhash', 'm1']],
        state: [], members: [],
      };
      await expect(pool.query('SELECT axon_append_batch($1::jsonb) AS r', [JSON.stringify(batch)])).rejects.toMatchObject({ code: '23505' });
    } finally {
      await storage.close();
    }
  });
});

describe('migration 12', () => {
  it('finds a user\'s membership events and a state key\'s history by type and key, not by reading the room', async () => {
    await freshSchema(postgresMigrations.at(-1)!.version);
    // a large room: many messages, a few state events
    await pool.query(`INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, content, origin_server_ts, topological_ordering)
      SELECT i, '$e' || i, '!big:x', CASE WHEN i % 1000 = 0 THEN 'm.room.member' ELSE 'm.room.message' END,
        CASE WHEN i % 1000 = 0 THEN '@u' || (i / 1000) || ':x' END, '@u:x', '{}', 0, i FROM generate_series(1, 20000) i`);
    await pool.query('ANALYZE events');
    // the store's statements (pg-events.ts: getMembershipEvents, getStateHistory), as prepared statements are planned
    const client = await pool.connect();
    try {
      await client.query('SET plan_cache_mode = force_generic_plan');
      for (const [sql, values] of [
        ["SELECT * FROM events WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2 AND stream_ordering <= $3 ORDER BY stream_ordering", ['!big:x', '@u7:x', 20000]],
        ['SELECT * FROM events WHERE room_id = $1 AND type = $2 AND state_key = $3 AND stream_ordering <= $4 ORDER BY stream_ordering', ['!big:x', 'm.room.history_visibility', '', 20000]],
      ] as const) {
        await client.query({ name: '', text: `PREPARE q AS ${sql}` });
        const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE q(${values.map((v) => (typeof v === 'number' ? v : `'${v}'`)).join(', ')})`))
          .rows.map((r) => r['QUERY PLAN']).join('\n');
        await client.query('DEALLOCATE q');
        expect(plan).toMatch(/Index Scan using events_room_state/);
      }
    } finally {
      client.release();
    }
  });
});
