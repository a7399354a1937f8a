import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseConfig } from '../config/schema.js';
import type { Storage } from './storage.js';
import { SqliteStorage } from './sqlite/sqlite-storage.js';
import { PgStorage } from './postgres/pg-storage.js';

/** Opens the configured database and brings its schema up to date. */
export async function openStorage(config: DatabaseConfig): Promise<Storage> {
  if (config.name === 'sqlite3') {
    const file = config.args.database;
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    return new SqliteStorage({ file, synchronous: config.args.synchronous });
  }
  return PgStorage.open({ url: config.args.url, poolSize: config.args.cp_max });
}
