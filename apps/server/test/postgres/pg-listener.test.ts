/**
 * One LISTEN connection per process (PgListener): the token revocations and the
 * replication bus share it, it opens only when something listens, and when it is lost
 * both hear so and make up for what they missed once it is back. Runs in the PostgreSQL
 * project only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { PgNotifyBus } from '../../src/replication/pg-notify-bus.js';
import { PgListener } from '../../src/storage/postgres/pg-listener.js';
import { PgStorage } from '../../src/storage/postgres/pg-storage.js';
import { createTestDatabase, pgAdminUrl, type TestDatabase } from '../helpers/pg.js';
import { until } from '../helpers/until.js';

let db: TestDatabase;
let sql: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  // the schema (migration 7's triggers) for the storage tests
  await (await PgStorage.open({ url: db.url, poolSize: 1 })).close();
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
}, 60_000);

afterAll(async () => {
  await sql?.end();
  await db?.drop();
}, 30_000);


/** The backends of this test's database named `name`: their pids. */
async function backends(name: string): Promise<number[]> {
  const r = await sql.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [db.name, name]);
  return r.rows.map((row) => row.pid);
}

async function terminate(pid: number): Promise<void> {
  await sql.query('SELECT pg_terminate_backend($1)', [pid]);
}

async function only(name: string): Promise<number> {
  const pids = await backends(name);
  expect(pids).toHaveLength(1);
  return pids[0]!;
}

const notify = (channel: string, payload: string): Promise<unknown> => sql.query('SELECT pg_notify($1, $2)', [channel, payload]);

describe('PgListener', () => {
  it('listens on several channels over one connection, each notice to its own channel\'s handlers', async () => {
    const listener = new PgListener(db.url, 'listener-two');
    const a: string[] = [];
    const b: string[] = [];
    try {
      await Promise.all([listener.listen('chan_a', (p) => a.push(p)), listener.listen('chan_b', (p) => b.push(p))]);
      await listener.listen('chan_a', (p) => a.push(`again ${p}`));
      expect(await backends('listener-two')).toHaveLength(1);
      expect(listener.isListening('chan_a') && listener.isListening('chan_b')).toBe(true);
      expect(listener.isListening('chan_c')).toBe(false);
      await notify('chan_a', 'one');
      await notify('chan_b', 'two');
      await notify('chan_c', 'three');
      await notify('chan_b', '');
      await until(() => b.length, (n) => n >= 2, 'the notices');
      await new Promise((r) => setTimeout(r, 100));
      expect(a).toEqual(['one', 'again one']);
      expect(b).toEqual(['two', '']);
    } finally {
      await listener.close();
    }
    expect(await until(() => backends('listener-two'), (p) => p.length === 0, 'the close')).toEqual([]);
  });

  it('refuses a channel name that is not a plain identifier, and opens nothing for it', async () => {
    const listener = new PgListener(db.url, 'listener-bad');
    try {
      await expect(listener.listen('x; DROP TABLE users', () => {})).rejects.toThrow(/not a channel name/);
      await expect(listener.listen('Upper', () => {})).rejects.toThrow(/not a channel name/);
      expect(await backends('listener-bad')).toEqual([]);
    } finally {
      await listener.close();
    }
  });

  it('opens the connection again when it is lost, LISTENs on every channel again, and says so', async () => {
    const listener = new PgListener(db.url, 'listener-lost');
    const states: boolean[] = [];
    listener.onState((up) => states.push(up));
    const heard: string[] = [];
    try {
      await listener.listen('chan_a', (p) => heard.push(`a ${p}`));
      await listener.listen('chan_b', (p) => heard.push(`b ${p}`));
      expect(states).toEqual([]);
      await terminate(await only('listener-lost'));
      await until(() => states.length, (n) => n >= 1, 'the loss');
      expect(listener.isListening('chan_a')).toBe(false);
      await until(() => states.length, (n) => n >= 2, 'the return');
      expect(states).toEqual([false, true]);
      expect(listener.isListening('chan_a') && listener.isListening('chan_b')).toBe(true);
      await notify('chan_a', 'after');
      await notify('chan_b', 'after');
      await until(() => heard.length, (n) => n >= 2, 'the notices after the return');
      expect(heard).toEqual(['a after', 'b after']);
    } finally {
      await listener.close();
    }
  });

  it('says it is back when a listen() opens the connection before the retry does', async () => {
    const listener = new PgListener(db.url, 'listener-early');
    const states: boolean[] = [];
    listener.onState((up) => states.push(up));
    const heard: string[] = [];
    try {
      await listener.listen('chan_a', (p) => heard.push(`a ${p}`));
      await terminate(await only('listener-early'));
      await until(() => states.length, (n) => n >= 1, 'the loss');
      // the retry waits 100 ms: this open comes first
      await listener.listen('chan_c', (p) => heard.push(`c ${p}`));
      expect(states).toEqual([false, true]);
      await new Promise((r) => setTimeout(r, 300));
      expect(states).toEqual([false, true]);
      expect(await backends('listener-early')).toHaveLength(1);
      await notify('chan_a', 'x');
      await notify('chan_c', 'y');
      await until(() => heard.length, (n) => n >= 2, 'the notices');
      expect(heard).toEqual(['a x', 'c y']);
    } finally {
      await listener.close();
    }
  });

  it('keeps trying while the database refuses it, and listens once it can', async () => {
    // a database's own connections cannot close it to others
    const admin = new pg.Client({ connectionString: pgAdminUrl() });
    await admin.connect();
    const allow = (on: boolean): Promise<unknown> => admin.query(`ALTER DATABASE "${db.name}" WITH ALLOW_CONNECTIONS ${on}`);
    await allow(false);
    const listener = new PgListener(db.url, 'listener-refused');
    const states: boolean[] = [];
    listener.onState((up) => states.push(up));
    try {
      await expect(listener.listen('chan_a', () => {})).rejects.toThrow();
      expect(listener.isListening('chan_a')).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
      expect(listener.isListening('chan_a')).toBe(false);
      await allow(true);
      await until(() => listener.isListening('chan_a'), (l) => l, 'the connection');
      expect(states).toEqual([true]);
    } finally {
      await allow(true);
      await admin.end();
      await listener.close();
    }
  });
});

describe('one LISTEN connection per process', () => {
  it('the storage opens none until a token is checked; the bus and the token revocations then share one', async () => {
    const storage = await PgStorage.open({ url: db.url, poolSize: 1 });
    const logger = createLogger('warn', { write: () => {} });
    let bus: PgNotifyBus | undefined;
    try {
      // as the admin CLI: no token is checked, nothing listens
      await storage.schemaVersion();
      expect(await backends('axon-listen')).toEqual([]);
      bus = await PgNotifyBus.connect(db.url, logger, storage.notifications);
      expect(storage.tokenGeneration()).toBeUndefined();
      await until(() => storage.tokenGeneration(), (g) => g !== undefined, 'the token channel');
      // the bus's channel and the tokens' on the one connection
      expect(await backends('axon-listen')).toHaveLength(1);
      expect(storage.notifications.isListening('axon_replication') && storage.notifications.isListening('axon_token_revoked')).toBe(true);
    } finally {
      await bus?.close();
      await storage.close();
    }
    expect(await until(() => backends('axon-listen'), (p) => p.length === 0, 'the close')).toEqual([]);
  });

  it('a lost connection: tokens are looked up meanwhile and count a revocation; the bus catches up and says hello again', async () => {
    const storage = await PgStorage.open({ url: db.url, poolSize: 1 });
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => { lines.push(l); } });
    const bus = await PgNotifyBus.connect(db.url, logger, storage.notifications);
    const pid = await only('axon-listen');
    const other = await PgNotifyBus.connect(db.url, createLogger('warn', { write: () => {} }));
    let reconnects = 0;
    bus.onReconnect(() => { reconnects++; });
    const payloads: string[] = [];
    const counter = new pg.Client({ connectionString: db.url });
    await counter.connect();
    counter.on('notification', (n) => payloads.push(n.payload ?? ''));
    await counter.query('LISTEN axon_replication');
    try {
      await until(() => bus.hasPeers && other.hasPeers, (b) => b, 'the hellos');
      const before = await until(() => storage.tokenGeneration(), (g) => g !== undefined, 'the token channel') as number;
      payloads.length = 0;
      await terminate(pid);
      await until(() => lines.join(''), (l) => l.includes('LISTEN connection lost'), 'the loss');
      await until(() => reconnects, (n) => n >= 1, 'the catch-up');
      expect(reconnects).toBe(1);
      expect(lines.join('')).toContain('LISTEN connection back');
      const after = await until(() => storage.tokenGeneration(), (g) => g !== undefined, 'the token channel again') as number;
      // the loss and the return each count as a revocation: notices may have been missed
      expect(after).toBeGreaterThanOrEqual(before + 2);
      // the bus said hello again once back: the others hear it and answer
      await until(() => payloads.filter((p) => p.endsWith('[{"t":"hello","beacons":true}]')).length, (n) => n >= 1, 'the new hello');
      // and it hears the others' messages again
      const got: unknown[] = [];
      bus.onMessage((m) => got.push(m));
      other.publish({ t: 'redacted', eventId: '$e:x' });
      await until(() => got.length, (n) => n >= 1, 'a message after the return');
      expect(got).toEqual([{ t: 'redacted', eventId: '$e:x' }]);
    } finally {
      await counter.end();
      await other.close();
      await bus.close();
      await storage.close();
    }
  });
});
