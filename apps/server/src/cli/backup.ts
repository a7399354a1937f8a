import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { loadConfig } from '../config/load.js';
import { parseFlags, required, UsageError } from './args.js';

/**
 * Copies the SQLite database with SQLite's online backup API, from a second, read-only
 * connection: safe while the server runs (it keeps writing; the copy is one consistent
 * snapshot). The copy is written next to PATH and renamed into place only once it is
 * complete and passes `PRAGMA quick_check`. Restoring: docs/operations.md.
 */
export async function backupCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, { config: { type: 'string' }, to: { type: 'string' } });
  const config = loadConfig(required(flags.config, 'config'));
  const target = path.resolve(required(flags.to, 'to'));
  if (config.database.name !== 'sqlite3') {
    throw new UsageError('axon backup copies SQLite databases; for PostgreSQL use pg_dump');
  }
  const source = config.database.args.database;
  if (source === ':memory:') throw new UsageError('the database is :memory:; there is nothing to back up');
  if (!existsSync(source)) throw new Error(`no database at ${source}`);
  if (existsSync(target)) throw new UsageError(`${target} already exists; not overwriting it`);
  mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(partial);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    db.close();
  }
  const copy = new Database(partial, { readonly: true, fileMustExist: true });
  let version: number | null;
  try {
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`the copy fails quick_check: ${String(check)}`);
    version = (copy.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v;
  } catch (err) {
    copy.close();
    rmSync(partial, { force: true });
    throw err;
  }
  copy.close();
  renameSync(partial, target);
  console.log(`axon: backed up ${source} to ${target} (schema version ${version ?? 0})`);
  return 0;
}
