import { defineConfig } from 'vitest/config';

// AXON_TEST_POSTGRES=require|auto adds the server's integration suite on PostgreSQL
// (apps/server/vitest.postgres.config.ts). `pnpm test:postgres` sets require; `npm test` sets auto
// only where PostgreSQL is missing, so that one skipped test says loudly it did not run.
const postgres = process.env.AXON_TEST_POSTGRES ? ['apps/server/vitest.postgres.config.ts'] : [];

export default defineConfig({
  test: {
    projects: ['tools/codegen', 'tools/bench', 'packages/*', 'apps/*', 'tests/*', ...postgres],
    reporters: ['default', './tools/vitest/summary-reporter.mjs'],
    passWithNoTests: true,
  },
});
