import { defineConfig } from 'vitest/config';
import { availability } from '../../tools/pg/cluster.mjs';

/**
 * The server's integration suite (test/**) again, on PostgreSQL: the global setup starts a
 * throwaway cluster (or takes DATABASE_URL) and every test server gets its own database.
 * The root config includes this project when AXON_TEST_POSTGRES is set:
 *   require (or 1): PostgreSQL must be there, else the run fails (CI);
 *   auto: runs when PostgreSQL is there, else one skipped test says loudly that it did not (npm test).
 */
const mode = process.env.AXON_TEST_POSTGRES ?? 'require';
const available = availability();
const skip = mode === 'auto' && !available.ok;

export default defineConfig({
  test: {
    name: 'server-postgres',
    include: skip ? ['test/postgres/not-run.test.ts'] : ['test/**/*.test.ts'],
    exclude: skip ? [] : ['test/postgres/not-run.test.ts', '**/node_modules/**'],
    globalSetup: skip ? [] : ['test/postgres/global-setup.ts'],
    env: { AXON_TEST_DATABASE: 'postgres' },
    // Every storage call is a round trip to another process here (in-process on SQLite), and a
    // test server migrates a fresh database: a test of many requests (registrations with scrypt
    // included) takes longer than the 5 s default when the machine is busy.
    testTimeout: 15_000,
    hookTimeout: 30_000,
    passWithNoTests: true,
  },
});
