import Database from 'better-sqlite3';
import type { AccessTokenRecord, NewUser, Storage, UserRecord } from '../storage.js';
import { sqliteMigrations, type Migration } from '../migrations/sqlite.js';
import { SqliteEventStore } from './sqlite-events.js';
import { SqliteStreamStore } from './sqlite-streams.js';
import { SqliteMediaStore } from './sqlite-media.js';
import { SqlitePresenceListStore } from './sqlite-presence-list.js';
import { startCheckpointer, type Checkpointer } from './sqlite-checkpointer.js';
import { tokenFromRow, userFromRow, type TokenRow, type UserRow } from '../rows.js';

export interface SqliteOptions {
  /** A file path, or ':memory:'. */
  file: string;
  synchronous: 'NORMAL' | 'FULL';
}




export function migrate(db: Database.Database, migrations: readonly Migration[] = sqliteMigrations): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, name TEXT NOT NULL, applied_ts INTEGER NOT NULL)');
  const current = (db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) throw new Error(`database schema version ${current} is newer than this server (${latest})`);
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version, name, applied_ts) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
  return latest;
}

/**
 * better-sqlite3 is synchronous, so every statement runs on the event loop through this
 * one connection; that makes commit order equal to stream order.
 */
export class SqliteStorage implements Storage {
  private readonly db: Database.Database;
  private closed = false;
  /** WAL checkpoints on a worker thread (file databases); see sqlite-checkpointer.ts. */
  private readonly checkpointer: Checkpointer | null;
  private readonly stmts;
  private tokenGen = 0;
  private lastDataVersion = -1;
  private dataVersionFresh = false;
  readonly events: SqliteEventStore;
  readonly streams: SqliteStreamStore;
  readonly media: SqliteMediaStore;
  readonly presenceList: SqlitePresenceListStore;

  constructor(options: SqliteOptions) {
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    this.checkpointer = options.file === ':memory:' || options.file === '' ? null
      : startCheckpointer(this.db, options.file, options.synchronous === 'FULL' ? 'FULL' : 'NORMAL');
    this.events = new SqliteEventStore(this.db);
    this.streams = new SqliteStreamStore(this.db);
    this.media = new SqliteMediaStore(this.db);
    this.presenceList = new SqlitePresenceListStore(this.db);
    this.stmts = {
      insertUser: this.db.prepare(
        'INSERT INTO users (user_id, password_hash, admin, created_ts, displayname) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING'),
      getUser: this.db.prepare('SELECT * FROM users WHERE user_id = ?'),
      setPassword: this.db.prepare('UPDATE users SET password_hash = ? WHERE user_id = ?'),
      setDisplayname: this.db.prepare('UPDATE users SET displayname = ? WHERE user_id = ?'),
      setAvatarUrl: this.db.prepare('UPDATE users SET avatar_url = ? WHERE user_id = ?'),
      listUsers: this.db.prepare('SELECT * FROM users ORDER BY user_id'),
      setDeactivated: this.db.prepare('UPDATE users SET deactivated = ? WHERE user_id = ?'),
      insertToken: this.db.prepare('INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES (?, ?, ?, ?)'),
      getToken: this.db.prepare(
        'SELECT t.* FROM access_tokens t JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = ? AND u.deactivated = 0'),
      deleteToken: this.db.prepare('DELETE FROM access_tokens WHERE token_hash = ?'),
      deleteTokensOfUser: this.db.prepare('DELETE FROM access_tokens WHERE user_id = ? AND token_hash IS NOT ?'),
      version: this.db.prepare('SELECT max(version) AS v FROM schema_version'),
      // changes when another connection (the CLI in another process) commits
      dataVersion: this.db.prepare('PRAGMA data_version').pluck(),
    };
  }

  async createUser(user: NewUser): Promise<boolean> {
    const r = this.stmts.insertUser.run(user.userId, user.passwordHash, user.admin ? 1 : 0, user.createdTs, user.displayname ?? null);
    return r.changes === 1;
  }

  async getUser(userId: string): Promise<UserRecord | null> {
    const row = this.stmts.getUser.get(userId) as UserRow | undefined;
    return row ? userFromRow(row) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (this.stmts.listUsers.all() as UserRow[]).map(userFromRow);
  }

  async setDeactivated(userId: string, deactivated: boolean): Promise<boolean> {
    this.tokenGen++;
    return this.stmts.setDeactivated.run(deactivated ? 1 : 0, userId).changes === 1;
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.stmts.setPassword.run(passwordHash, userId).changes === 1;
  }

  async setDisplayname(userId: string, displayname: string | null): Promise<boolean> {
    return this.stmts.setDisplayname.run(displayname, userId).changes === 1;
  }

  async setAvatarUrl(userId: string, avatarUrl: string | null): Promise<boolean> {
    return this.stmts.setAvatarUrl.run(avatarUrl, userId).changes === 1;
  }

  async addAccessToken(token: AccessTokenRecord): Promise<void> {
    this.stmts.insertToken.run(token.tokenHash, token.userId, token.deviceId, token.createdTs);
  }

  async getAccessToken(tokenHash: string): Promise<AccessTokenRecord | null> {
    const row = this.stmts.getToken.get(tokenHash) as TokenRow | undefined;
    return row ? tokenFromRow(row) : null;
  }

  async deleteAccessToken(tokenHash: string): Promise<void> {
    this.tokenGen++;
    this.stmts.deleteToken.run(tokenHash);
  }

  async deleteAccessTokensOfUser(userId: string, keepTokenHash?: string): Promise<number> {
    this.tokenGen++;
    return this.stmts.deleteTokensOfUser.run(userId, keepTokenHash ?? null).changes;
  }

  tokenGeneration(): number {
    // Asked once per turn of the event loop: the pragma opens a read transaction (WAL
    // index and locks), 3% of a send's CPU when asked per request. The requests of one
    // turn are handled as at one instant, so a commit by another process is seen by the
    // next turn's requests, as it would be had it landed a moment later.
    if (!this.dataVersionFresh) {
      this.dataVersionFresh = true;
      setImmediate(() => { this.dataVersionFresh = false; });
      const v = this.stmts.dataVersion.get() as number;
      if (v !== this.lastDataVersion) {
        this.lastDataVersion = v;
        this.tokenGen++;
      }
    }
    return this.tokenGen;
  }

  async schemaVersion(): Promise<number> {
    return (this.stmts.version.get() as { v: number | null }).v ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // the worker's connection first: the last one to close checkpoints and removes the WAL
    await this.checkpointer?.stop();
    this.db.close();
  }
}
