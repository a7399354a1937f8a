import { configDefaults, defineConfig } from 'vitest/config';

// test/postgres/ needs a PostgreSQL server: it runs in vitest.postgres.config.ts only.
export default defineConfig({ test: { passWithNoTests: true, exclude: [...configDefaults.exclude, 'test/postgres/**'] } });
