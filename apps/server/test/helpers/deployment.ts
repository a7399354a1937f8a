import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAxon, type RunningAxon } from './cli.js';
import { createTestDatabase, type TestDatabase } from './pg.js';

/** `axon start` processes on one fresh test database, for the multi-process suites. */
export interface Deployment {
  readonly db: TestDatabase;
  /** Where their configs (and media) are. */
  readonly dir: string;
  readonly procs: RunningAxon[];
  /** Stops every process, drops the database and removes the directory. */
  stop(): Promise<void>;
}

/**
 * Writes the configs (`configs` is given the directory and the database's URL) and starts a
 * process on each, one after the other: the first runs the migrations, the others find them
 * done.
 */
export async function startDeployment(name: string, configs: (dir: string, url: string) => Promise<string[]> | string[]): Promise<Deployment> {
  const db = await createTestDatabase();
  const dir = mkdtempSync(path.join(tmpdir(), `axon-${name}-`));
  const procs: RunningAxon[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const config of await configs(dir, db.url)) procs.push(await startAxon(config));
  } catch (err) {
    await stop();
    throw err;
  }
  return { db, dir, procs, stop };
}
