import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/**
 * PostgreSQL for the integration suite. AXON_TEST_DATABASE=postgres (set by
 * vitest.postgres.config.ts) makes startServer() give every test server a database of
 * its own on the server that the global setup started or found in DATABASE_URL.
 */
export function testBackend(): 'sqlite' | 'postgres' {
  return process.env.AXON_TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
}

/** A URL of the test PostgreSQL server with rights to CREATE DATABASE. */
export function pgAdminUrl(): string {
  let url: string | undefined;
  try {
    url = inject('pgAdminUrl' as never) as string | undefined;
  } catch {
    // not under vitest's runner
  }
  url ??= process.env.DATABASE_URL;
  if (!url) throw new Error('AXON_TEST_DATABASE=postgres needs DATABASE_URL or the postgres global setup (pnpm test:postgres)');
  return url;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgAdminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** CREATE DATABASE axon_test_<random>; drop() removes it (WITH FORCE, so leftover connections do not block it). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `axon_test_${randomBytes(6).toString('hex')}`;
  // template0 so that nothing connected to template1 makes CREATE wait or fail
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`));
  const url = new URL(pgAdminUrl());
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
