import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['tools/codegen', 'packages/*', 'apps/*', 'tests/*'],
    reporters: ['default', './tools/vitest/summary-reporter.mjs'],
    passWithNoTests: true,
  },
});
