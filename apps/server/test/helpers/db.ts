import Database from 'better-sqlite3';
import pg from 'pg';
import type { HomeserverConfig } from '../../src/config/schema.js';

/**
 * Reads a test server's database directly, on either backend. Write the SQL with `?`
 * placeholders; on PostgreSQL they become $1, $2, ... Flags come back as 0/1 on SQLite and
 * booleans on PostgreSQL: compare them with Boolean(...).
 */
export async function queryDb<T = Record<string, unknown>>(srv: { config: HomeserverConfig }, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  const db = srv.config.database;
  if (db.name === 'sqlite3') {
    const conn = new Database(db.args.database, { readonly: true, fileMustExist: true });
    try {
      return conn.prepare(sql).all(...params) as T[];
    } finally {
      conn.close();
    }
  }
  let n = 0;
  const client = new pg.Client({ connectionString: db.args.url });
  await client.connect();
  try {
    return (await client.query(sql.replace(/\?/g, () => `$${++n}`), [...params])).rows as T[];
  } finally {
    await client.end();
  }
}
