import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../sqlite/sqlite-storage.js';
import { sqliteMigrations } from './sqlite.js';

describe('SQLite migrations', () => {
  it('6 rebuilds event_txns WITHOUT ROWID, keeping its rows and its uniqueness', () => {
    const db = new Database(':memory:');
    migrate(db, sqliteMigrations.filter((m) => m.version < 6));
    db.prepare('INSERT INTO event_txns (token_hash, txn_id, event_id, created_ts) VALUES (?, ?, ?, ?)').run('h', 't1', '$e:hs', 1);
    expect(migrate(db)).toBe(sqliteMigrations.at(-1)!.version);
    expect(db.prepare('SELECT token_hash, txn_id, event_id, created_ts FROM event_txns').all()).toEqual([
      { token_hash: 'h', txn_id: 't1', event_id: '$e:hs', created_ts: 1 },
    ]);
    expect((db.prepare("SELECT sql FROM sqlite_master WHERE name = 'event_txns'").get() as { sql: string }).sql).toMatch(/WITHOUT ROWID/);
    expect(() => db.prepare('INSERT INTO event_txns VALUES (?, ?, ?, ?)').run('h', 't1', '$f:hs', 2)).toThrow(/UNIQUE|PRIMARY/);
    db.close();
  });

  it('12 finds a user\'s membership events and a state key\'s history by type and key, not by reading the room', () => {
    const db = new Database(':memory:');
    migrate(db);
    // the store's statements (sqlite-events.ts: membershipEvents, stateHistory)
    const plans = [
      "SELECT * FROM events WHERE room_id = ? AND type = 'm.room.member' AND state_key = ? AND stream_ordering <= ? ORDER BY stream_ordering",
      'SELECT * FROM events WHERE room_id = ? AND type = ? AND state_key = ? AND stream_ordering <= ? ORDER BY stream_ordering',
    ].map((sql) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(sql.includes("'m.room.member'") ? ['!r', '@u', 9] : ['!r', 'm.room.history_visibility', '', 9])) as { detail: string }[])
      .map((r) => r.detail).join('; '));
    for (const plan of plans) expect(plan).toMatch(/USING INDEX events_room_state \(room_id=\? AND type=\? AND state_key=\? AND stream_ordering<\?\)/);
    db.close();
  });
});
