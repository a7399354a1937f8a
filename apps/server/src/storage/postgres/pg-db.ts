import pg from 'pg';
import type { Migration } from '../migrations/sqlite.js';
import { postgresMigrations } from '../migrations/postgres.js';

/** BIGINT (int8) and count(*) arrive as numbers: every value Axon stores is below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
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
    types,
    application_name: 'axon',
  });
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
 */
export const STREAM_LOCKS = {
  events: 1,
  receipts: 2,
  accountData: 3,
  presence: 4,
} as const;
