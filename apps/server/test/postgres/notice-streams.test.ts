/**
 * Replication notices on the replication listeners (replication/notice-streams.ts): buses
 * that read each other's streams send no NOTIFY; a bus falls back to NOTIFY while any
 * process it heard of does not read its stream; a cut stream is opened again and caught up
 * on; a process gone for good is forgotten; and the endpoint answers bad requests with
 * Matrix errors. Runs in the PostgreSQL project only.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RoomService } from '../../src/domain/rooms/room-service.js';
import { createLogger } from '../../src/logging.js';
import type { ReplicationMessage } from '../../src/replication/bus.js';
import { NOTICES_AUTH_SCHEME, NOTICES_PATH, subscribeMac } from '../../src/replication/notice-streams.js';
import { startReplicationListener, type ReplicationListener } from '../../src/replication/persister-listener.js';
import { PgNotifyBus } from '../../src/replication/pg-notify-bus.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { until } from '../helpers/until.js';

const SECRET = 'notice-stream-secret';
const CHANNEL = 'axon_replication';

let db: TestDatabase;
/** Every NOTIFY on the replication channel: its origin, and whether it carried room events. */
let watcher: pg.Client;
const notices: { origin: string; events: boolean }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
  watcher.on('notification', (n) => {
    const payload = n.payload ?? '';
    const sep = payload.indexOf(' ');
    notices.push({ origin: payload.slice(0, sep), events: payload.slice(sep + 1).includes('"t":"events"') });
  });
  await watcher.query(`LISTEN ${CHANNEL}`);
}, 60_000);

afterAll(async () => {
  await watcher?.end();
  await db?.drop();
}, 30_000);


interface Process {
  bus: PgNotifyBus;
  listener?: ReplicationListener;
  received: ReplicationMessage[];
  reconnects: number;
  logs: string[];
}

const running: Process[] = [];

/** A bus as `axon start` makes one: with a replication listener that serves its notices, unless `listen` is false. */
async function start(options: { secret?: string; listen?: boolean; beaconMs?: number } = {}): Promise<Process> {
  const logs: string[] = [];
  const logger = createLogger('info', { write: (l: string) => { logs.push(l); } });
  const secret = 'secret' in options ? options.secret : SECRET;
  const bus = await PgNotifyBus.connect(db.url, logger, undefined, { ...(secret !== undefined ? { secret } : {}), ...(options.beaconMs ? { beaconMs: options.beaconMs } : {}) });
  const p: Process = { bus, received: [], reconnects: 0, logs };
  bus.onMessage((m) => p.received.push(m));
  bus.onReconnect(() => { p.reconnects++; });
  if (options.listen !== false) {
    // the persister's side is not used here: no POST reaches it
    p.listener = await startReplicationListener({ port: 0, bind_addresses: ['127.0.0.1'], type: 'replication', x_forwarded: false },
      SECRET, {} as RoomService, logger, bus);
    bus.serveNotices(p.listener.url);
  }
  running.push(p);
  return p;
}

async function stop(p: Process): Promise<void> {
  running.splice(running.indexOf(p), 1);
  await p.listener?.close(1_000);
  await p.bus.close();
}

afterEach(async () => {
  await Promise.all([...running].map(stop));
  notices.length = 0;
});

const subscribers = (p: Process): number => p.bus.replicationStats().subscribers;

/** A subscription's query and Authorization, signed with `secret`, at `ts`. */
function signed(from: string, to: string, secret = SECRET, ts = Date.now()): { query: string; auth: string } {
  return { query: `?from=${from}&to=${to}&ts=${ts}`, auth: `${NOTICES_AUTH_SCHEME} ${subscribeMac(secret, from, to, String(ts))}` };
}
const events = (pos: number): ReplicationMessage => ({ t: 'events', pos, evs: [[pos, '!room:x']] });

describe('replication notice streams', () => {
  it('two processes reading each other\'s streams send their messages there, in order, and no NOTIFY', async () => {
    const a = await start();
    const b = await start();
    await until(() => [subscribers(a), subscribers(b)], (n) => n[0] === 1 && n[1] === 1, 'the subscriptions');
    expect(a.bus.noticeTarget()).toBeNull();
    expect(b.bus.noticeTarget()).toBeNull();
    notices.length = 0;
    const before = a.bus.replicationStats();
    a.bus.publish(events(5));
    a.bus.publish({ t: 'receipt', pos: 3, roomId: '!ünïcödé:x' });
    a.bus.publish(events(6));
    await new Promise((r) => setImmediate(r));
    a.bus.publish({ t: 'typing', roomId: '!room:x', userId: '@a:x', typing: true, timeoutMs: 30_000 });
    a.bus.publish(events(7));
    a.bus.publish(events(8));
    await until(() => b.received.length, (n) => n >= 5, 'the messages');
    expect(b.received).toEqual([
      events(5),
      { t: 'receipt', pos: 3, roomId: '!ünïcödé:x' },
      events(6),
      { t: 'typing', roomId: '!room:x', userId: '@a:x', typing: true, timeoutMs: 30_000 },
      // one turn's events go as one message: the newest position, and every event named
      { t: 'events', pos: 8, evs: [[7, '!room:x'], [8, '!room:x']] },
    ]);
    const after = a.bus.replicationStats();
    expect(after.stream - before.stream).toBe(2);
    expect(after.notify).toBe(before.notify);
    await new Promise((r) => setTimeout(r, 100));
    expect(notices.filter((n) => n.origin === a.bus.origin)).toEqual([]);
  });

  it('while a process it heard of does not read its stream, a bus publishes by NOTIFY, which every process hears', async () => {
    const a = await start();
    const b = await start();
    await until(() => [subscribers(a), subscribers(b)], (n) => n[0] === 1 && n[1] === 1, 'the subscriptions');
    // no secret: it cannot subscribe, and it has no stream to offer
    const c = await start({ secret: undefined, listen: false });
    await until(() => c.bus.hasPeers, (h) => h, 'c\'s hello heard');
    await until(() => a.bus.noticeTarget(), (t) => t !== null, 'a hearing c');
    expect(subscribers(a)).toBe(1);
    a.bus.publish(events(11));
    await until(() => [b.received.length, c.received.length], (n) => n[0]! >= 1 && n[1]! >= 1, 'the notice');
    expect(b.received).toEqual([events(11)]);
    expect(c.received).toEqual([events(11)]);
    expect(notices.filter((n) => n.origin === a.bus.origin && n.events)).toHaveLength(1);
    expect(a.bus.replicationStats().stream).toBe(0);
  });

  it('a cut stream: the publisher falls back to NOTIFY, the subscriber opens it again and catches up', async () => {
    const a = await start();
    const b = await start();
    await until(() => [subscribers(a), subscribers(b)], (n) => n[0] === 1 && n[1] === 1, 'the subscriptions');
    const reconnects = b.reconnects;
    // the streams end without a bye (endSubscribers says one: the process is going), as
    // when a connection breaks
    (a.bus as unknown as { subscribers: { endAll(): void } }).subscribers.endAll();
    await until(() => subscribers(a), (n) => n === 0, 'the cut');
    expect(a.bus.noticeTarget()).not.toBeNull();
    a.bus.publish(events(21));
    await until(() => b.received.length, (n) => n >= 1, 'the notice by NOTIFY');
    expect(notices.filter((n) => n.origin === a.bus.origin && n.events)).toHaveLength(1);
    await until(() => subscribers(a), (n) => n === 1, 'the stream opened again');
    // what went missing while it was cut is read from the database by the onReconnect handlers
    await until(() => b.reconnects, (n) => n > reconnects, 'the catch-up');
    expect(a.bus.noticeTarget()).toBeNull();
    a.bus.publish(events(22));
    await until(() => b.received.length, (n) => n >= 2, 'the message on the stream');
    expect(b.received).toEqual([events(21), events(22)]);
    expect(b.logs.join('')).toContain('notice stream lost');
  });

  it('a process that closes says bye: the others forget it at once', async () => {
    const a = await start();
    const b = await start();
    await until(() => [subscribers(a), subscribers(b)], (n) => n[0] === 1 && n[1] === 1, 'the subscriptions');
    await stop(b);
    // well before three beacons (30 s)
    await until(() => a.bus.hasPeers, (h) => !h, 'b forgotten', 2_000);
    expect(a.bus.noticeTarget()).toBeNull();
    // the bye came on the stream before it ended: a did not take the end for a loss
    await new Promise((r) => setTimeout(r, 300));
    expect(a.logs.join('')).not.toContain('notice stream lost');
    // alone again: room events are not announced at all
    const stats = a.bus.replicationStats();
    a.bus.publish(events(31));
    await new Promise((r) => setTimeout(r, 50));
    expect(a.bus.replicationStats()).toEqual(stats);
  });

  it('a process that beacons and falls silent (killed) is forgotten after three beacons; one of an earlier version, never', async () => {
    const a = await start({ beaconMs: 100 });
    const hello = (origin: string, body: Record<string, unknown>): Promise<unknown> =>
      watcher.query('SELECT pg_notify($1, $2)', [CHANNEL, `${origin} [${JSON.stringify({ t: 'hello', re: true, ...body })}]`]);
    await hello('00000000000000aa', { beacons: true });
    await until(() => a.bus.hasPeers, (h) => h, 'the peer heard');
    expect(a.bus.noticeTarget()).not.toBeNull();
    await until(() => a.bus.hasPeers, (h) => !h, 'the silent peer forgotten', 5_000);
    // an earlier version's hello says nothing of beacons: it is kept however long it is silent
    await hello('00000000000000bb', {});
    await until(() => a.bus.hasPeers, (h) => h, 'the old peer heard');
    await new Promise((r) => setTimeout(r, 600));
    expect(a.bus.hasPeers).toBe(true);
  });

  it('a hello naming an address where another process answers: the subscription stops at the 409, with no retries', async () => {
    const a = await start();
    const b = await start();
    await until(() => [subscribers(a), subscribers(b)], (n) => n[0] === 1 && n[1] === 1, 'the subscriptions');
    // a process that names a's address as its own (a stale or wrong replication_url)
    await watcher.query('SELECT pg_notify($1, $2)', [CHANNEL, `0123456789abcdef [${JSON.stringify({ t: 'hello', re: true, url: a.listener!.url })}]`]);
    await until(() => b.logs.join(''), (l) => l.includes('another process answers at this notice stream'), 'the 409');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(b.logs.join('').split('another process answers at this notice stream').length - 1).toBe(1);
    expect(subscribers(a)).toBe(1);
    // an address where something else answers 200 (not naming the process asked for) is the same
    const seen: string[] = [];
    const other = createServer((req, res) => {
      seen.push(`${req.url} ${JSON.stringify(req.headers)}`);
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.write('[{"t":"events","pos":999999}]\n');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      await watcher.query('SELECT pg_notify($1, $2)', [CHANNEL, `0123456789abcdee [${JSON.stringify({ t: 'hello', re: true, url })}]`]);
      await until(() => b.logs.join('').split('another process answers at this notice stream').length - 1, (n) => n >= 2, 'the second refusal');
      expect(b.received.filter((m) => m.t === 'events')).toEqual([]);
      // it was asked, and never shown the secret (a hello can name any address: anyone who can connect to the database can NOTIFY)
      expect(seen.length).toBeGreaterThanOrEqual(1);
      expect(seen.join('\n')).not.toContain(SECRET);
    } finally {
      other.closeAllConnections();
      other.close();
    }
  });

  it('hellos sent in one notice (the one at LISTEN and the one naming the stream): the newest is what counts', async () => {
    const a = await start();
    const b = await start({ listen: false });
    await until(() => a.bus.hasPeers && b.bus.hasPeers, (h) => h, 'the hellos');
    // a process's first two hellos, sent together: the address is in the second
    await watcher.query('SELECT pg_notify($1, $2)', [CHANNEL,
      `00000000000000cc [${JSON.stringify({ t: 'hello', beacons: true })},${JSON.stringify({ t: 'hello', url: a.listener!.url, beacons: true })}]`]);
    // b tried that address (a answers there, not 00000000000000cc: 409)
    await until(() => b.logs.join(''), (l) => l.includes('another process answers at this notice stream'), 'b subscribing to the address');
  });

  it('a subscriber that stops reading is cut once 4 MiB wait for it', async () => {
    const a = await start();
    // subscribes as 00000000000000dd and never reads past the answer's head
    const { query, auth } = signed('00000000000000dd', a.bus.origin);
    const req = request(`${a.listener!.url}${NOTICES_PATH}${query}`, { agent: false, headers: { Authorization: auth } });
    req.on('error', () => {});
    req.on('response', (res) => res.pause());
    req.end();
    try {
      await until(() => subscribers(a), (n) => n === 1, 'the subscription');
      // a megabyte a line (typing messages are not merged), a line a turn
      const typing = (i: number): ReplicationMessage => ({ t: 'typing', roomId: `!${'r'.repeat(100)}${i}:x`, userId: '@u:x', typing: true, timeoutMs: 1 });
      for (let line = 0; line < 64 && subscribers(a) === 1; line++) {
        for (let i = 0; i < 6_000; i++) a.bus.publish(typing(i));
        await new Promise((r) => setImmediate(r));
      }
      await until(() => subscribers(a), (n) => n === 0, 'the cut', 5_000);
    } finally {
      req.destroy();
    }
  });

  it('the endpoint answers bad requests with Matrix errors', async () => {
    const a = await start();
    const base = a.listener!.url;
    const origin = '0123456789abcdef';
    const get = async (query: string, auth: string | null, method = 'GET'): Promise<{ status: number; body: unknown }> => {
      const res = await fetch(`${base}${NOTICES_PATH}${query}`, { method, headers: auth ? { Authorization: auth } : {} });
      return { status: res.status, body: await res.json() };
    };
    const good = signed(origin, a.bus.origin);
    const forbidden = { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'Wrong worker_replication_secret' } };
    expect(await get(good.query, null)).toEqual({ status: 401, body: { errcode: 'M_MISSING_TOKEN', error: 'Missing access token' } });
    // the secret itself is not what this path takes
    expect(await get(good.query, `Bearer ${SECRET}`)).toEqual(forbidden);
    expect(await get(good.query, signed(origin, a.bus.origin, 'another secret').auth)).toEqual(forbidden);
    // signed for another pair of processes
    expect(await get(good.query, signed(origin, 'fedcba9876543210').auth)).toEqual(forbidden);
    // signed well, ten minutes ago (a recording replayed)
    const old = signed(origin, a.bus.origin, SECRET, Date.now() - 600_000);
    expect(await get(old.query, old.auth)).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect((await get(good.query, null, 'POST')).status).toBe(405);
    expect(await get(`?from=nothex&to=${a.bus.origin}&ts=1`, good.auth)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await get(`?from=${origin}&ts=1`, good.auth)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await get(`?from=${origin}&to=${a.bus.origin}`, good.auth)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    const elsewhere = signed(origin, 'fedcba9876543210');
    expect(await get(elsewhere.query, elsewhere.auth)).toMatchObject({ status: 409, body: { errcode: 'M_UNKNOWN' } });
    expect(subscribers(a)).toBe(0);
    // a listener without a bus (SQLite cannot have one) serves the persister's path only
    const bare = await startReplicationListener({ port: 0, bind_addresses: ['127.0.0.1'], type: 'replication', x_forwarded: false },
      SECRET, {} as RoomService, createLogger('silent'));
    try {
      const res = await fetch(`${bare.url}${NOTICES_PATH}${good.query}`, { headers: { Authorization: good.auth } });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    } finally {
      await bare.close(100);
    }
  });

  it('what anyone who can NOTIFY may send does no harm: bad addresses and malformed messages are dropped, a bye comes after what precedes it', async () => {
    const a = await start();
    const b = await start();
    await until(() => [subscribers(a), subscribers(b)], (n) => n[0] === 1 && n[1] === 1, 'the subscriptions');
    const raw = (origin: string, messages: unknown[]): Promise<unknown> => watcher.query('SELECT pg_notify($1, $2)', [CHANNEL, `${origin} ${JSON.stringify(messages)}`]);
    // addresses node:http cannot take threw where nothing caught them
    await raw('00000000000000e1', [{ t: 'hello', re: true, url: 'https://x/' }]);
    await raw('00000000000000e2', [{ t: 'hello', re: true, url: 'nonsense' }]);
    await raw('00000000000000e3', [{ t: 'hello', re: true, url: 'http://[::1' }]);
    await raw('00000000000000e4', [{ t: 'events', pos: 1, evs: 5 }, { t: 'receipt', pos: 'x', roomId: 1 }, { t: 'typing' }, null, 7,
      { t: 'presence_state', userId: '@u:x', presence: 'asleep', statusMsg: null, lastActiveTs: 1, streamId: 1 },
      { t: 'presence_state', userId: '@u:x', presence: 'online', statusMsg: 5, lastActiveTs: 1, streamId: 1 },
      { t: 'presence_state', userId: '@u:x', presence: 'online', statusMsg: null, lastActiveTs: 1, streamId: 1, hold: [1] },
      // a hold no later claim could pass, a rank above every real one
      { t: 'presence_state', userId: '@u:x', presence: 'online', statusMsg: null, lastActiveTs: 1, streamId: 1, hold: [Date.now() + 2 * 86_400_000, 0.5] },
      { t: 'presence_state', userId: '@u:x', presence: 'online', statusMsg: null, lastActiveTs: 1, streamId: 1, hold: [1, 2] },
      { t: 'redacted', eventId: '$ok:x' }]);
    const presence = { t: 'presence_state', userId: '@e5:x', presence: 'online', statusMsg: null, lastActiveTs: 1, streamId: 1, hold: [2, 0.5], seen: 3 };
    await raw('00000000000000e5', [{ t: 'typing', roomId: '!r:x', userId: '@e5:x', typing: true, timeoutMs: 1000 }, presence, { t: 'bye' }]);
    await until(() => b.received.length, (n) => n >= 3, 'the well-formed messages');
    expect(b.received).toEqual([{ t: 'redacted', eventId: '$ok:x' }, { t: 'typing', roomId: '!r:x', userId: '@e5:x', typing: true, timeoutMs: 1000 }, presence]);
    // and the two still talk
    b.received.length = 0;
    a.bus.publish({ t: 'receipt', pos: 4, roomId: '!r:x' });
    await until(() => b.received.length, (n) => n >= 1, 'a message after');
    expect(b.received).toEqual([{ t: 'receipt', pos: 4, roomId: '!r:x' }]);
  });

  it('a process going: after its bye, its last notices come by NOTIFY and are taken', async () => {
    const a = await start();
    const b = await start();
    await until(() => [subscribers(a), subscribers(b)], (n) => n[0] === 1 && n[1] === 1, 'the subscriptions');
    a.bus.endSubscribers();
    a.bus.publish({ t: 'receipt', pos: 9, roomId: '!r:x' });
    await until(() => b.received.length, (n) => n >= 1, 'the last notice');
    expect(b.received).toEqual([{ t: 'receipt', pos: 9, roomId: '!r:x' }]);
    expect(b.bus.hasPeers).toBe(false);
  });

  it('a link broken without a word: the subscriber hears no heartbeat and reopens; the publisher cuts a stream its reader does not name', async () => {
    // a beats every 100 ms (its answer says so), and then stops, its connection open (a frozen process)
    const a = await start({ beaconMs: 100 });
    const b = await start();
    await until(() => subscribers(a), (n) => n >= 1, 'b reading a');
    await new Promise((r) => setTimeout(r, 400));
    expect(b.logs.join('')).not.toContain('the stream was silent');
    clearInterval((a.bus as unknown as { beaconTimer: ReturnType<typeof setInterval> }).beaconTimer);
    await until(() => b.logs.join(''), (l) => l.includes('the stream was silent for 300 ms'), 'b giving up on the silence');
    // c beats every 100 ms: a stream of its that a does not read (by a's hellos) is cut
    const c = await start({ beaconMs: 100 });
    await until(() => subscribers(c), (n) => n >= 1, 'a subscription to c');
    const aHasC = (): boolean => (a.bus as unknown as { subscriptions: Map<string, unknown> }).subscriptions.has(c.bus.origin);
    expect(aHasC()).toBe(true);
    // a's own account, forged: it reads nobody's stream
    await new Promise((r) => setTimeout(r, 150));
    await watcher.query('SELECT pg_notify($1, $2)', [CHANNEL, `${a.bus.origin} [${JSON.stringify({ t: 'hello', re: true, beacons: true, url: a.listener!.url, reads: [] })}]`]);
    await until(() => c.logs.join(''), (l) => l.includes('no longer reads this process\'s notice stream'), 'c cutting a\'s stream');
  });
});
