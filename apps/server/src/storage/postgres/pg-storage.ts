import type pg from 'pg';
import type { AccessTokenRecord, NewUser, Storage, UserRecord } from '../storage.js';
import { createPool, migrate, type PgOptions } from './pg-db.js';
import { PgEventStore } from './pg-events.js';
import { PgMediaStore } from './pg-media.js';
import { PgPresenceListStore } from './pg-presence-list.js';
import { PgStreamStore } from './pg-streams.js';
import { PgListener } from './pg-listener.js';
import { TokenRevocations } from './token-revocations.js';
import { tokenFromRow, userFromRow, type TokenRow, type UserRow } from '../rows.js';




/**
 * Storage on PostgreSQL 15, behaving exactly as SqliteStorage does. Safe for several
 * server processes on one database: see PgEventStore for how the event stream stays
 * gap-free across them.
 */
export class PgStorage implements Storage {
  private closing: Promise<void> | null = null;
  readonly events: PgEventStore;
  readonly media: PgMediaStore;
  readonly presenceList: PgPresenceListStore;
  readonly streams: PgStreamStore;
  /** The process's one LISTEN connection: token revocations here, the replication bus (PgNotifyBus) too. */
  readonly notifications: PgListener;
  private readonly revocations: TokenRevocations;

  private constructor(readonly pool: pg.Pool, url: string) {
    this.notifications = new PgListener(url);
    this.revocations = new TokenRevocations(this.notifications);
    this.events = new PgEventStore(pool);
    this.media = new PgMediaStore(pool);
    this.presenceList = new PgPresenceListStore(pool);
    this.streams = new PgStreamStore(pool);
  }

  /** Connects, migrates, and returns the storage; the pool is closed again if that fails. */
  static async open(options: PgOptions): Promise<PgStorage> {
    const pool = createPool(options);
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return new PgStorage(pool, options.url);
  }

  async createUser(user: NewUser): Promise<boolean> {
    const r = await this.pool.query(
      'INSERT INTO users (user_id, password_hash, admin, created_ts, displayname) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING',
      [user.userId, user.passwordHash, user.admin, user.createdTs, user.displayname ?? null]);
    return r.rowCount === 1;
  }

  async getUser(userId: string): Promise<UserRecord | null> {
    const row = (await this.pool.query<UserRow>('SELECT * FROM users WHERE user_id = $1', [userId])).rows[0];
    return row ? userFromRow(row) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.pool.query<UserRow>('SELECT * FROM users ORDER BY user_id COLLATE "C"')).rows.map(userFromRow);
  }

  async setDeactivated(userId: string, deactivated: boolean): Promise<boolean> {
    return this.revoking(async () =>
      (await this.pool.query('UPDATE users SET deactivated = $1 WHERE user_id = $2', [deactivated, userId])).rowCount === 1);
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return (await this.pool.query('UPDATE users SET password_hash = $1 WHERE user_id = $2', [passwordHash, userId])).rowCount === 1;
  }

  async setDisplayname(userId: string, displayname: string | null): Promise<boolean> {
    return (await this.pool.query('UPDATE users SET displayname = $1 WHERE user_id = $2', [displayname, userId])).rowCount === 1;
  }

  async setAvatarUrl(userId: string, avatarUrl: string | null): Promise<boolean> {
    return (await this.pool.query('UPDATE users SET avatar_url = $1 WHERE user_id = $2', [avatarUrl, userId])).rowCount === 1;
  }

  async addAccessToken(token: AccessTokenRecord): Promise<void> {
    await this.pool.query('INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES ($1, $2, $3, $4)',
      [token.tokenHash, token.userId, token.deviceId, token.createdTs]);
  }

  async getAccessToken(tokenHash: string): Promise<AccessTokenRecord | null> {
    const row = (await this.pool.query<TokenRow>(
      'SELECT t.* FROM access_tokens t JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = $1 AND NOT u.deactivated', [tokenHash])).rows[0];
    return row ? tokenFromRow(row) : null;
  }

  async deleteAccessToken(tokenHash: string): Promise<void> {
    await this.revoking(() => this.pool.query('DELETE FROM access_tokens WHERE token_hash = $1', [tokenHash]));
  }

  async deleteAccessTokensOfUser(userId: string, keepTokenHash?: string): Promise<number> {
    return this.revoking(async () => (await this.pool.query('DELETE FROM access_tokens WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2',
      [userId, keepTokenHash ?? null])).rowCount ?? 0);
  }

  tokenGeneration(): number | undefined {
    return this.revocations.current();
  }

  /**
   * A write that may end tokens, counted before it starts (no lookup from then on is
   * cached) and after it commits (nor one that began in between and read the old row),
   * so that this process refuses the token as soon as the write returns; other processes
   * hear of it through the trigger's notice.
   */
  private async revoking<T>(write: () => Promise<T>): Promise<T> {
    this.revocations.bump();
    try {
      return await write();
    } finally {
      this.revocations.bump();
    }
  }

  async schemaVersion(): Promise<number> {
    return (await this.pool.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')).rows[0]?.v ?? 0;
  }

  async close(): Promise<void> {
    this.closing ??= Promise.all([this.notifications.close(), this.pool.end()]).then(() => {});
    return this.closing;
  }
}
