import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sqliteMigrations } from '../src/storage/migrations/sqlite.js';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateConfig } from '../src/config/generate.js';
import { checkConfig, ConfigError, loadConfig } from '../src/config/load.js';
import { openStorage } from '../src/storage/open.js';

const dir = mkdtempSync(path.join(tmpdir(), 'axon-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = { server_name: 'example.org', listeners: [{ port: 8008 }], database: { name: 'sqlite3', args: { database: 'hs.db' } } };

describe('config', () => {
  it('generates a commented config that loads, with Synapse defaults and fresh secrets', () => {
    const text = generateConfig({ serverName: 'example.org', dataDir: dir });
    expect(text).toMatch(/^# /m);
    const file = path.join(dir, 'gen.yaml');
    writeFileSync(file, text);
    const config = loadConfig(file);
    expect(config.server_name).toBe('example.org');
    expect(config.listeners).toEqual([{ port: 8008, bind_addresses: ['127.0.0.1'], type: 'http', x_forwarded: false }]);
    expect(config.database).toEqual({ name: 'sqlite3', args: { database: path.join(dir, 'homeserver.db'), synchronous: 'NORMAL' } });
    expect(config.rc_message).toEqual({ per_second: 0.2, burst_count: 10 });
    expect(config.rc_login).toEqual({ per_second: 0.17, burst_count: 3 });
    expect(config.rc_registration).toEqual({ per_second: 0.17, burst_count: 3 });
    expect(config.enable_registration).toBe(false);
    expect(config.max_upload_size).toBe('50M');
    expect(config.registration_shared_secret?.length).toBeGreaterThan(30);
    const other = parse(generateConfig({ serverName: 'example.org', dataDir: dir })) as { registration_shared_secret: string };
    expect(other.registration_shared_secret).not.toBe(config.registration_shared_secret);
  });

  it('honours --port, --bind, --database and --enable-registration', () => {
    const pg = parse(generateConfig({ serverName: 'a', dataDir: dir, port: 9000, bind: '0.0.0.0', database: 'postgres://u@h/db', enableRegistration: true }));
    expect(pg.listeners[0]).toMatchObject({ port: 9000, bind_addresses: ['0.0.0.0'] });
    expect(pg.database).toEqual({ name: 'postgres', args: { url: 'postgres://u@h/db' } });
    expect(pg.enable_registration).toBe(true);
    const sqlite = parse(generateConfig({ serverName: 'a', dataDir: dir, database: 'sqlite:/var/x.db' }));
    expect(sqlite.database.args.database).toBe('/var/x.db');
  });

  it.each([
    [{ ...minimal, server_name: 5 }, 'server_name: must be string'],
    [{ ...minimal, listeners: [{ port: 'x' }] }, 'listeners[0].port: must be integer'],
    [{ ...minimal, rc_login: { per_second: 1 } }, 'rc_login.burst_count: is required'],
    [{ ...minimal, enable_registratoin: true }, 'enable_registratoin: is not a known setting'],
    [{ ...minimal, database: { name: 'mysql', args: {} } }, 'database.name: must be one of sqlite3, postgres'],
    [{ ...minimal, database: { name: 'sqlite3', args: { database: 'x', synchronous: 'OFF' } } }, 'database.args.synchronous: must be one of NORMAL, FULL'],
    [{ listeners: [{ port: 1 }], database: minimal.database }, 'server_name: is required'],
  ])('names the key in errors: %j', (raw, message) => {
    expect(() => checkConfig(raw, dir)).toThrow(ConfigError);
    expect(() => checkConfig(raw, dir)).toThrow(message);
  });

  it('resolves relative paths against the config file', () => {
    const config = checkConfig(minimal, dir);
    expect(config.database.name === 'sqlite3' && config.database.args.database).toBe(path.join(dir, 'hs.db'));
  });
});

describe('SQLite storage', () => {
  it('opens in WAL mode and applies the migrations once', async () => {
    const file = path.join(dir, 'wal.db');
    for (const synchronous of ['NORMAL', 'FULL'] as const) {
      const storage = await openStorage({ name: 'sqlite3', args: { database: file, synchronous } });
      expect(await storage.schemaVersion()).toBe(sqliteMigrations.at(-1)!.version);
      await storage.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
      for (const t of ['users', 'access_tokens', 'events', 'current_state', 'room_memberships', 'rooms', 'room_aliases', 'event_txns', 'redactions']) {
        expect(tables).toContain(t);
      }
      expect((db.prepare('SELECT count(*) AS n FROM schema_version').get() as { n: number }).n).toBe(sqliteMigrations.length);
    } finally {
      db.close();
    }
    expect(readFileSync(file).length).toBeGreaterThan(0);
  });
});

describe('event persister config (docs/scaling.md)', () => {
  const pg = { name: 'postgres', args: { url: 'postgres://axon@db/axon' } };
  const base = { server_name: 'x', database: pg, listeners: [{ port: 1 }] };

  it('takes a replication listener and event_persister with worker_replication_secret, on PostgreSQL', () => {
    const persister = checkConfig({ ...base, worker_replication_secret: 's', listeners: [{ port: 1 }, { port: 2, type: 'replication' }] }, '/tmp');
    expect(persister.listeners[1]!.type).toBe('replication');
    const forwarder = checkConfig({ ...base, worker_replication_secret: 's', event_persister: 'http://10.0.0.5:9093' }, '/tmp');
    expect(forwarder.event_persister).toBe('http://10.0.0.5:9093');
    const advertised = checkConfig({ ...base, worker_replication_secret: 's', listeners: [{ port: 1 }, { port: 9093, bind_addresses: ['0.0.0.0'], type: 'replication' }], replication_url: 'http://10.0.0.6:9093' }, '/tmp');
    expect(advertised.replication_url).toBe('http://10.0.0.6:9093');
  });

  it.each([
    ['a replication listener without the secret', { listeners: [{ port: 1 }, { port: 2, type: 'replication' }] }, /listeners\[1\].*worker_replication_secret/],
    ['a replication listener on SQLite', { worker_replication_secret: 's', database: { name: 'sqlite3', args: { database: 'x.db' } }, listeners: [{ port: 1 }, { port: 2, type: 'replication' }] }, /listeners\[1\].*postgres/],
    ['event_persister without the secret', { event_persister: 'http://p:9093' }, /event_persister.*worker_replication_secret/],
    ['event_persister on SQLite', { worker_replication_secret: 's', event_persister: 'http://p:9093', database: { name: 'sqlite3', args: { database: 'x.db' } } }, /event_persister.*postgres/],
    ['event_persister with a path', { worker_replication_secret: 's', event_persister: 'http://p:9093/replication' }, /event_persister/],
    ['event_persister not a URL', { worker_replication_secret: 's', event_persister: 'p:9093' }, /event_persister/],
    ['event_persister over https (the replication listener is plain HTTP)', { worker_replication_secret: 's', event_persister: 'https://p:9093' }, /event_persister/],
    ['replication_url without a replication listener', { worker_replication_secret: 's', replication_url: 'http://p:9093' }, /replication_url.*listener of type replication/],
    ['replication_url with a path', { worker_replication_secret: 's', listeners: [{ port: 1 }, { port: 2, type: 'replication' }], replication_url: 'http://p:9093/x' }, /replication_url/],
  ])('refuses %s', (_what, overrides, message) => {
    expect(() => checkConfig({ ...base, ...overrides }, '/tmp')).toThrow(message);
  });
});
