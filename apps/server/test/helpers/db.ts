import Database from 'better-sqlite3';
import pg from 'pg';
import type { HomeserverConfig } from '../../src/config/schema.js';

/** A connection to a test server's database, on either backend (see queryDb for the SQL rules). */
export interface DbConnection {
  readonly backend: 'sqlite' | 'postgres';
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** The server's tables (schema_version included), sorted by name. */
  tables(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Opens a connection of its own to a test server's database: read-only on SQLite (WAL lets
 * it see every commit), a plain client on PostgreSQL. For many queries in a row; queryDb
 * opens and closes one per call.
 */
export async function connectDb(srv: { config: HomeserverConfig }): Promise<DbConnection> {
  const db = srv.config.database;
  if (db.name === 'sqlite3') {
    const conn = new Database(db.args.database, { readonly: true, fileMustExist: true });
    const query = async <T>(sql: string, params: readonly unknown[] = []): Promise<T[]> => conn.prepare(sql).all(...params) as T[];
    return {
      backend: 'sqlite',
      query,
      tables: async () => (await query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).map((r) => r.name),
      close: async () => { conn.close(); },
    };
  }
  const client = new pg.Client({ connectionString: db.args.url });
  await client.connect();
  const query = async <T>(sql: string, params: readonly unknown[] = []): Promise<T[]> => {
    let n = 0;
    return (await client.query(sql.replace(/\?/g, () => `$${++n}`), [...params])).rows as T[];
  };
  return {
    backend: 'postgres',
    query,
    tables: async () => (await query<{ name: string }>(
      'SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename COLLATE "C"',
    )).map((r) => r.name),
    close: () => client.end(),
  };
}

/**
 * Reads a test server's database directly, on either backend. Write the SQL with `?`
 * placeholders; on PostgreSQL they become $1, $2, ... Flags come back as 0/1 on SQLite and
 * booleans on PostgreSQL: compare them with Boolean(...).
 */
export async function queryDb<T = Record<string, unknown>>(srv: { config: HomeserverConfig }, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  const conn = await connectDb(srv);
  try {
    return await conn.query<T>(sql, params);
  } finally {
    await conn.close();
  }
}
