import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkConfig } from '../../src/config/load.js';
import type { HomeserverConfig } from '../../src/config/schema.js';
import { startHomeserver, type RunningHomeserver } from '../../src/homeserver.js';
import type { HandlerMap } from '../../src/http/handler.js';
import { createLogger } from '../../src/logging.js';
import { createTestDatabase, testBackend, type TestDatabase } from './pg.js';

export interface LogLine { level: number; msg: string; [key: string]: unknown }

export interface TestServer {
  /** e.g. http://127.0.0.1:39211 */
  baseUrl: string;
  config: HomeserverConfig;
  dataDir: string;
  /** Everything the server logged, parsed. */
  logs: LogLine[];
  hs: RunningHomeserver;
  /** Log lines of responses that failed spec validation; tests expect none. */
  specViolations(): LogLine[];
  /** Stops the server and deletes its data directory. */
  close(): Promise<void>;
  /**
   * Stops the server, keeping its data directory, and starts a new one on the same
   * database (a new port). This handle is closed; use the returned one, whose close()
   * deletes the data directory.
   */
  restart(): Promise<TestServer>;
}

export interface StartOptions {
  /** Merged over the defaults (registration on, a shared secret, response validation on). */
  config?: Record<string, unknown>;
  /** Handlers that replace or add to the real ones, even for not-yet-implemented operations. */
  stubs?: HandlerMap;
  /** Reuse this data directory (and its homeserver.db) instead of a fresh temp dir. */
  dataDir?: string;
  /** With AXON_TEST_DATABASE=postgres: reuse this database instead of a fresh one (restart). */
  pgDatabase?: TestDatabase;
}

export const SHARED_SECRET = 'test-shared-secret';
export const RAISED_RATE_LIMIT = { per_second: 1_000_000, burst_count: 1_000_000 };

/**
 * A homeserver on 127.0.0.1, any free port, with a fresh SQLite database in a temp dir, or,
 * with AXON_TEST_DATABASE=postgres (pnpm test:postgres), a fresh PostgreSQL database that
 * close() drops. A test that sets `database` in its config gets exactly that.
 */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'axon-test-'));
  const pgDatabase = testBackend() === 'postgres' && options.config?.['database'] === undefined
    ? options.pgDatabase ?? await createTestDatabase()
    : undefined;
  // JSON round trip: `key: undefined` in options.config removes a default.
  const config = checkConfig(JSON.parse(JSON.stringify({
    server_name: 'localhost',
    listeners: [{ port: 0, bind_addresses: ['127.0.0.1'] }],
    database: pgDatabase
      ? { name: 'postgres', args: { url: pgDatabase.url } }
      : { name: 'sqlite3', args: { database: path.join(dataDir, 'homeserver.db') } },
    enable_registration: true,
    registration_shared_secret: SHARED_SECRET,
    testing: { validate_responses: true },
    log_level: 'info',
    // Far above Synapse's defaults, so no test trips a rate limit by accident; the
    // rate-limit tests set their own.
    rc_message: RAISED_RATE_LIMIT,
    rc_login: RAISED_RATE_LIMIT,
    rc_registration: RAISED_RATE_LIMIT,
    ...options.config,
  })) as unknown, dataDir);
  const logs: LogLine[] = [];
  const logger = createLogger(config.log_level, { write: (line: string) => { logs.push(JSON.parse(line) as LogLine); } });
  let hs: RunningHomeserver;
  try {
    hs = await startHomeserver(config, logger, { stubs: options.stubs });
  } catch (err) {
    if (!options.pgDatabase) await pgDatabase?.drop();
    throw err;
  }
  return {
    baseUrl: hs.url,
    config,
    dataDir,
    logs,
    hs,
    specViolations: () => logs.filter((l) => l.msg === 'response violates spec'),
    close: async () => {
      await hs.close();
      rmSync(dataDir, { recursive: true, force: true });
      await pgDatabase?.drop();
    },
    restart: async () => {
      await hs.close();
      return startServer({ ...options, dataDir, ...(pgDatabase ? { pgDatabase } : {}) });
    },
  };
}
