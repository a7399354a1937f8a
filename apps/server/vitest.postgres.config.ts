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
    passWithNoTests: true,
  },
});
