import { describe, expect, it } from 'vitest';
import { postgresMigrations } from '../src/storage/migrations/postgres.js';
import { sqliteMigrations } from '../src/storage/migrations/sqlite.js';

describe('storage backends', () => {
  it('PostgreSQL has a migration for every SQLite migration (same versions and names)', () => {
    // Adding a SQLite migration? Add its twin to src/storage/migrations/postgres.ts and the
    // store methods to src/storage/postgres/, then run `pnpm test:postgres`.
    expect(postgresMigrations.map((m) => [m.version, m.name])).toEqual(sqliteMigrations.map((m) => [m.version, m.name]));
  });
});
