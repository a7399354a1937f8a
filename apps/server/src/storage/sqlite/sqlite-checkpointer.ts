import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/**
 * SQLite's WAL checkpoints, mostly off the event loop. With the default
 * `wal_autocheckpoint` (1,000 pages), every few hundred commits one copies the WAL back
 * into the database file and fsyncs both, inside the commit, on the one thread that serves
 * every request (a 20-80 ms stall on a busy disk). Here a worker thread with a connection
 * of its own runs PASSIVE checkpoints every `intervalMs`: they copy and fsync without ever
 * taking the write lock. The server's connection keeps an autocheckpoint, at
 * AUTOCHECKPOINT_PAGES: only it can restart the WAL from the beginning while writes keep
 * coming (a write starting on a fully copied WAL restarts it), and by the time it runs the
 * worker has copied and synced nearly everything, so it is short. The WAL stays bounded
 * (about AUTOCHECKPOINT_PAGES x 4 KiB). Durability is unchanged: a commit is as durable as
 * its WAL frames, checkpointed or not.
 */
const AUTOCHECKPOINT_PAGES = 10_000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
const db = new Database(workerData.file, { fileMustExist: true, timeout: 0 });
db.pragma('synchronous = ' + workerData.synchronous);
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or closing: the next round retries */ }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { db.close(); } catch { /* already gone */ }
  parentPort.close();
});
parentPort.postMessage('ready');
`;

export interface Checkpointer {
  /** Stops the worker and closes its connection (before the server's own close). */
  stop(): Promise<void>;
}

/**
 * Starts background checkpoints for `db` (a file database in WAL mode). Until the worker
 * reports ready, and for good if it fails, the connection keeps the default autocheckpoint.
 */
export function startCheckpointer(db: Database.Database, file: string, synchronous: 'NORMAL' | 'FULL', intervalMs = 200): Checkpointer {
  const modulePath = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, synchronous, intervalMs, modulePath } });
  worker.unref();
  let alive = true;
  worker.once('message', (m) => { if (m === 'ready' && alive && db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`); });
  const fallBack = (): void => {
    if (!alive) return;
    alive = false;
    if (db.open) db.pragma('wal_autocheckpoint = 1000');
  };
  worker.once('error', fallBack);
  worker.once('exit', fallBack);
  return {
    stop: async () => {
      if (!alive) return;
      alive = false;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      const timeout = setTimeout(() => { void worker.terminate(); }, 2_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
