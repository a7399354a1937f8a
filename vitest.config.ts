import { defineConfig } from 'vitest/config';

// AXON_TEST_POSTGRES=require|auto adds the server's integration suite on PostgreSQL
// (apps/server/vitest.postgres.config.ts); `npm test` sets auto, `pnpm test:postgres` require.
const postgres = process.env.AXON_TEST_POSTGRES ? ['apps/server/vitest.postgres.config.ts'] : [];

export default defineConfig({
  test: {
    projects: ['tools/codegen', 'packages/*', 'apps/*', 'tests/*', ...postgres],
    reporters: ['default', './tools/vitest/summary-reporter.mjs'],
    passWithNoTests: true,
  },
});
