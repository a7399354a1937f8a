/**
 * What the PostgreSQL backend's caches rest on: checked tokens are remembered only while a
 * LISTEN connection hears every revocation (migration 7's triggers, whoever writes), the
 * batch writes values as SQL literals, and the replication bus packs its messages into
 * few notices. Runs in the PostgreSQL project only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Accounts } from '../../src/domain/accounts/accounts.js';
import { hashToken } from '../../src/domain/accounts/tokens.js';
import { createLogger } from '../../src/logging.js';
import type { ReplicationMessage } from '../../src/replication/bus.js';
import { PgNotifyBus } from '../../src/replication/pg-notify-bus.js';
import { sqlLiteral } from '../../src/storage/postgres/pg-db.js';
import { PgStorage } from '../../src/storage/postgres/pg-storage.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { until } from '../helpers/until.js';

let db: TestDatabase;
let storage: PgStorage;
let sql: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  storage = await PgStorage.open({ url: db.url, poolSize: 2 });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
}, 60_000);

afterAll(async () => {
  await sql?.end();
  await storage?.close();
  await db?.drop();
}, 30_000);


/** The generation once the LISTEN connection is up (the first ask opens it). */
const listening = (): Promise<number> =>
  until(() => storage.tokenGeneration(), (g) => g !== undefined, 'the LISTEN connection') as Promise<number>;

describe('token revocation notices', () => {
  it('every statement that may end a token, from any connection, moves the generation; adding tokens does not', async () => {
    expect(storage.tokenGeneration()).toBeUndefined();
    let g = await listening();
    await sql.query("INSERT INTO users (user_id, password_hash, admin, created_ts) VALUES ('@op:x', 'h', FALSE, 1)");
    const revokers = [
      "DELETE FROM access_tokens WHERE token_hash = 'nothing'",
      "UPDATE access_tokens SET device_id = 'D' WHERE token_hash = 'nothing'",
      "UPDATE users SET deactivated = TRUE WHERE user_id = '@op:x'",
      'TRUNCATE access_tokens',
    ];
    for (const statement of revokers) {
      await sql.query(statement);
      const before = g;
      g = await until(() => storage.tokenGeneration()!, (v) => v !== before, statement);
    }
    // inserts, and user changes other than deactivation, do not: the next change seen is the DELETE's alone
    await sql.query("INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES ('t', '@op:x', 'D', 1)");
    await sql.query("UPDATE users SET displayname = 'Op' WHERE user_id = '@op:x'");
    await sql.query("DELETE FROM access_tokens WHERE token_hash = 't'");
    const before = g;
    g = await until(() => storage.tokenGeneration()!, (v) => v !== before, 'the DELETE');
    await new Promise((r) => setTimeout(r, 100));
    expect(storage.tokenGeneration()).toBe(before + 1);
  });

  it('a cached token is refused once another connection revokes it, and is looked up no more while valid', async () => {
    await listening();
    const accounts = new Accounts(storage, { serverName: 'x', enableRegistration: true });
    const session = await accounts.register({ localpart: 'carol', password: 'correct horse' });
    const lookups = vi.spyOn(storage, 'getAccessToken');
    await accounts.authenticate(session.accessToken);
    await accounts.authenticate(session.accessToken);
    await accounts.authenticate(session.accessToken);
    expect(lookups).toHaveBeenCalledTimes(1);

    // as the admin CLI or psql would: another connection, not this storage
    await sql.query('DELETE FROM access_tokens WHERE token_hash = $1', [hashToken(session.accessToken)]);
    const refused = async (): Promise<boolean> => accounts.authenticate(session.accessToken).then(() => false, () => true);
    const deadline = Date.now() + 5_000;
    while (!(await refused())) {
      if (Date.now() > deadline) throw new Error('the revoked token is still accepted');
      await new Promise((r) => setTimeout(r, 10));
    }
    lookups.mockRestore();
  });

  it('a revocation through this storage is refused as soon as it returns', async () => {
    await listening();
    const accounts = new Accounts(storage, { serverName: 'x', enableRegistration: true });
    const session = await accounts.register({ localpart: 'dave', password: 'correct horse' });
    const requester = await accounts.authenticate(session.accessToken);
    await accounts.authenticate(session.accessToken);
    await accounts.logout(requester);
    await expect(accounts.authenticate(session.accessToken)).rejects.toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
  });
});

describe('SQL literals of the batch write', () => {
  it('round-trips quotes, backslashes and escapes, with standard_conforming_strings on and off', async () => {
    const samples = ["plain", "it's", "''", "back\\slash", "trailing\\", "\\'", "E'x'", "\\n is not a newline", "new\nline",
      "tab\t", "emoji \u{1F600}", "\uffff", '{"body":"a \\"quoted\\" \\\\ word"}', "$$dollar$$", "--comment", "'; DROP TABLE events; --"];
    for (const setting of ['on', 'off']) {
      await sql.query(`SET standard_conforming_strings = ${setting}`);
      for (const s of samples) {
        const res = await sql.query<{ v: string }>(`SELECT ${sqlLiteral(s)}::text AS v`);
        expect(res.rows[0]!.v, `${setting}: ${s}`).toBe(s);
      }
    }
    await sql.query('SET standard_conforming_strings = on');
  });
});

describe('replication notices', () => {
  it('delivers every message in order, a run of events shrunk to its newest position, large runs split across notices', async () => {
    const logger = createLogger('warn', { write: () => {} });
    const from = await PgNotifyBus.connect(db.url, logger);
    const to = await PgNotifyBus.connect(db.url, logger);
    // each has heard the other's hello: a bus alone publishes nothing
    await until(() => from.hasPeers && to.hasPeers, (b) => b, 'the hellos');
    const got: ReplicationMessage[] = [];
    to.onMessage((m) => got.push(m));
    const notices = vi.fn();
    const counter = new pg.Client({ connectionString: db.url });
    await counter.connect();
    counter.on('notification', notices);
    await counter.query('LISTEN axon_replication');
    try {
      const sent: ReplicationMessage[] = [
        { t: 'events', pos: 1 }, { t: 'events', pos: 3 }, { t: 'events', pos: 2 },
        { t: 'redacted', eventId: '$a:x' },
        { t: 'events', pos: 4 },
        { t: 'typing', roomId: '!r:x', userId: '@u:x', typing: true, timeoutMs: 30_000 },
      ];
      // about 30 KB of typing messages: more than one notice's 8,000 bytes
      for (let i = 0; i < 300; i++) sent.push({ t: 'typing', roomId: `!room${i}:x`, userId: `@user${i}:x`, typing: i % 2 === 0, timeoutMs: 1_000 });
      sent.push({ t: 'events', pos: 9 });
      for (const m of sent) from.publish(m);
      const expected = [{ t: 'events', pos: 3 }, ...sent.slice(3, 306), { t: 'events', pos: 9 }];
      await until(() => got.length, (n) => n >= expected.length, 'the messages');
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toEqual(expected);
      expect(notices.mock.calls.length).toBeGreaterThan(1);
      expect(notices.mock.calls.length).toBeLessThan(10);
      for (const [n] of notices.mock.calls as [{ payload: string }][]) expect(n.payload.length).toBeLessThan(8_000);
    } finally {
      await counter.end();
      await from.close();
      await to.close();
    }
  });

  it('a bus alone holds room events back; another\'s hello makes both announce them, and every hello is answered', async () => {
    const logger = createLogger('warn', { write: () => {} });
    const payloads: string[] = [];
    const counter = new pg.Client({ connectionString: db.url });
    await counter.connect();
    counter.on('notification', (n) => payloads.push(n.payload ?? ''));
    await counter.query('LISTEN axon_replication');
    const first = await PgNotifyBus.connect(db.url, logger);
    const joined = vi.fn();
    first.onPeer(joined);
    let second: PgNotifyBus | undefined;
    const bodies = (): string[] => payloads.map((p) => p.slice(p.indexOf(' ') + 1));
    try {
      await until(() => payloads.length, (n) => n >= 1, 'the first hello');
      first.publish({ t: 'events', pos: 5 });
      first.publish({ t: 'typing', roomId: '!r:x', userId: '@u:x', typing: true, timeoutMs: 1_000 });
      await until(() => payloads.length, (n) => n >= 2, 'the typing notice');
      await new Promise((r) => setTimeout(r, 200));
      // a listener that never says hello (this counter) is no peer: the events stay back, typing goes out
      expect(bodies()).toEqual(['[{"t":"hello","beacons":true}]', '[{"t":"typing","roomId":"!r:x","userId":"@u:x","typing":true,"timeoutMs":1000}]']);
      expect(first.hasPeers).toBe(false);
      expect(joined).not.toHaveBeenCalled();

      second = await PgNotifyBus.connect(db.url, logger);
      const got: ReplicationMessage[] = [];
      second.onMessage((m) => got.push(m));
      await until(() => first.hasPeers && second!.hasPeers, (b) => b, 'the hellos');
      expect(joined).toHaveBeenCalledTimes(1);
      first.publish({ t: 'events', pos: 6 });
      await until(() => got.length, (n) => n >= 1, 'the message');
      expect(got).toEqual([{ t: 'events', pos: 6 }]);
      // two greetings, and an answer to each one heard by the other bus (second may have
      // heard first's, depending on timing); answers are not answered
      await new Promise((r) => setTimeout(r, 200));
      const hellos = bodies().filter((p) => p.includes('"hello"'));
      expect(hellos.filter((p) => p === '[{"t":"hello","beacons":true}]')).toHaveLength(2);
      expect(hellos.filter((p) => p.includes('"re"')).length).toBeGreaterThanOrEqual(1);
      expect(hellos.filter((p) => p.includes('"re"')).length).toBeLessThanOrEqual(2);

      // a hello from a process already heard from is answered again: it may have lost the answer
      payloads.length = 0;
      await counter.query("SELECT pg_notify('axon_replication', '5050505050505050 [{\"t\":\"hello\"}]')");
      await counter.query("SELECT pg_notify('axon_replication', '5050505050505050 [{\"t\":\"hello\"}]')");
      // each bus answers each (answers sent together may share a notice)
      const answers = (): number => bodies().reduce((n, p) => n + p.split('"re":true').length - 1, 0);
      await until(answers, (n) => n >= 4, 'the answers');
      await new Promise((r) => setTimeout(r, 200));
      expect(answers()).toBe(4);
    } finally {
      await counter.end();
      await first.close();
      await second?.close();
    }
  });
});
