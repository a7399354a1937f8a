import type pg from 'pg';
import type { PresenceListStore } from '../presence-list.js';

export class PgPresenceListStore implements PresenceListStore {
  constructor(private readonly pool: pg.Pool) {}

  async addToPresenceList(ownerId: string, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    // WITH ORDINALITY keeps the given order in seq, as SQLite's rowid does
    await this.pool.query(`INSERT INTO presence_list (user_id, observed_user_id, added_ts)
      SELECT $1, u, $3 FROM unnest($2::text[]) WITH ORDINALITY AS t (u, n) ORDER BY n ON CONFLICT DO NOTHING`,
    [ownerId, userIds, Date.now()]);
  }

  async dropFromPresenceList(ownerId: string, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.pool.query('DELETE FROM presence_list WHERE user_id = $1 AND observed_user_id = ANY($2::text[])', [ownerId, userIds]);
  }

  async presenceList(ownerId: string): Promise<string[]> {
    return (await this.pool.query<{ observed_user_id: string }>(
      'SELECT observed_user_id FROM presence_list WHERE user_id = $1 ORDER BY added_ts, seq', [ownerId])).rows.map((r) => r.observed_user_id);
  }
}
