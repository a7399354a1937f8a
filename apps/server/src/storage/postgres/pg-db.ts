import pg from 'pg';
import type { Migration } from '../migrations/sqlite.js';
import { postgresMigrations } from '../migrations/postgres.js';

/**
 * U+0000 in text. SQLite stores it like any other character; PostgreSQL's text cannot hold it
 * ("invalid byte sequence for encoding \"UTF8\": 0x00"), so a display name or a path id with
 * a NUL would be a 500 here and a plain answer on SQLite. So that both backends store and
 * return the same strings, every string parameter is escaped on the way in and every text
 * value unescaped on the way out: U+0000 becomes U+FFFF '0' and U+FFFF becomes U+FFFF U+FFFF.
 * U+FFFF is a noncharacter, so the escape is a bijection that in practice never fires except
 * on NUL; equality (lookups, keys) is unchanged. JSON columns hold JSON text, where
 * JSON.stringify already writes NUL as \u0000.
 */
const ESC = '\uffff';
export function encodeText(s: string): string {
  return /[\u0000\uffff]/.test(s) ? s.replace(/[\u0000\uffff]/g, (c) => (c === '\u0000' ? `${ESC}0` : ESC + ESC)) : s;
}
export function decodeText(s: string): string {
  return s.includes(ESC) ? s.replace(/\uffff([0\uffff])/g, (_m, c: string) => (c === '0' ? '\u0000' : ESC)) : s;
}
/**
 * A string as an SQL literal, whatever standard_conforming_strings says: quotes doubled,
 * and with a backslash, an E'' literal with the backslashes doubled too (as the driver's
 * escapeLiteral, which walks the string a character at a time in JavaScript; event
 * contents are long).
 */
export function sqlLiteral(s: string): string {
  const quoted = s.includes("'") ? s.replace(/'/g, "''") : s;
  return s.includes('\\') ? ` E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

/** A string value as a literal, escaped as every string parameter is (encodeText). */
export function textLiteral(s: string): string {
  return sqlLiteral(encodeText(s));
}
const encodeParam = (v: unknown): unknown => (typeof v === 'string' ? encodeText(v) : Array.isArray(v) ? v.map(encodeParam) : v);

/** Escapes the string parameters (and string arrays) of every query this client runs. */
export function escapeTextParams(client: pg.ClientBase): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const [config, values] = args;
    if (Array.isArray(values)) {
      args[1] = values.map(encodeParam);
    } else if (config !== null && typeof config === 'object' && !('submit' in config) && Array.isArray((config as { values?: unknown }).values)) {
      args[0] = { ...config, values: (config as { values: unknown[] }).values.map(encodeParam) };
    }
    return query(...args);
  };
}

const INT8_OID = 20;
const TEXT_OID = 25;
const VARCHAR_OID = 1043;
const TEXT_ARRAY_OID = 1009;
const parseTextArray = pg.types.getTypeParser(TEXT_ARRAY_OID as never, 'text') as (v: string) => (string | null)[];
/**
 * BIGINT (int8) and count(*) arrive as numbers: every value Axon stores is below 2^53.
 * Text is unescaped (see encodeText).
 */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return pg.types.getTypeParser(oid, format);
    if (oid === INT8_OID) return (v: string) => Number(v);
    if (oid === TEXT_OID || oid === VARCHAR_OID) return decodeText;
    if (oid === TEXT_ARRAY_OID) return (v: string) => parseTextArray(v).map((x) => (x === null ? x : decodeText(x)));
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

export interface PgOptions {
  url: string;
  /** Most connections the pool opens (Synapse's cp_max). */
  poolSize?: number;
}

export const DEFAULT_POOL_SIZE = 10;

export function createPool(options: PgOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    types: pgTypes,
    application_name: 'axon',
  });
  pool.on('connect', escapeTextParams);
  // An idle client whose connection dies (server restart) must not crash the process;
  // the pool drops it and the next checkout opens a fresh one.
  pool.on('error', () => {});
  return pool;
}

/** Any client that can run a query: the pool or a checked-out connection. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** Runs `fn` in one transaction on one connection; rolls back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

/** The session lock every migrating process takes, so that concurrent starts migrate once. */
const MIGRATION_LOCK = 7_236_401;

export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = postgresMigrations): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, name TEXT NOT NULL, applied_ts BIGINT NOT NULL)');
      const current = (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')).rows[0]?.v ?? 0;
      const latest = migrations.at(-1)?.version ?? 0;
      if (current > latest) throw new Error(`database schema version ${current} is newer than this server (${latest})`);
      for (const m of migrations) {
        if (m.version <= current) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_version (version, name, applied_ts) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
      return latest;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/**
 * Transaction-scoped advisory locks that serialise the writers of one stream across every
 * process on the database: a position is allocated as max + 1 under the lock and the lock
 * is released only by COMMIT, so positions commit in allocation order and the newest
 * committed position is always a persisted-up-to position (nothing below it is in flight).
 * axon_append_batch (migration 8) takes the events lock by its number, 1.
 */
export const STREAM_LOCKS = {
  events: 1,
  receipts: 2,
  accountData: 3,
  presence: 4,
} as const;
