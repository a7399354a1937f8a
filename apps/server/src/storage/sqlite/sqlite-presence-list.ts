import type Database from 'better-sqlite3';
import type { PresenceListStore } from '../presence-list.js';

export class SqlitePresenceListStore implements PresenceListStore {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    this.stmts = {
      add: db.prepare('INSERT INTO presence_list (user_id, observed_user_id, added_ts) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      drop: db.prepare('DELETE FROM presence_list WHERE user_id = ? AND observed_user_id = ?'),
      list: db.prepare('SELECT observed_user_id FROM presence_list WHERE user_id = ? ORDER BY added_ts, rowid'),
    };
  }

  async addToPresenceList(ownerId: string, userIds: readonly string[]): Promise<void> {
    const now = Date.now();
    this.db.transaction(() => { for (const u of userIds) this.stmts.add.run(ownerId, u, now); })();
  }

  async dropFromPresenceList(ownerId: string, userIds: readonly string[]): Promise<void> {
    this.db.transaction(() => { for (const u of userIds) this.stmts.drop.run(ownerId, u); })();
  }

  async presenceList(ownerId: string): Promise<string[]> {
    return (this.stmts.list.all(ownerId) as { observed_user_id: string }[]).map((r) => r.observed_user_id);
  }
}
