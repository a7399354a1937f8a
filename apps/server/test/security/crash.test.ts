/**
 * Crashes, on a real `axon start` process: SIGKILL in the middle of bursts of sends from
 * several clients, a restart on the same database, then every acknowledged send is stored
 * exactly once (read back through GET /rooms/{id}/messages and straight from the database),
 * txnId retries answer the original event_id, and the database passes its integrity
 * check. SIGTERM during sends and waiting polls: the polls are answered, acknowledged writes
 * are durable and the exit code is 0.
 *
 * On SQLite by default; under the PostgreSQL suite (pnpm test:postgres) each test's process
 * gets a fresh PostgreSQL database. The integrity check is PRAGMA integrity_check on SQLite,
 * plus on both backends: no duplicate event ids, stream orderings contiguous and unique,
 * every current_state row points at an existing state event of its room and key, every
 * membership row matches the room's latest member event for that user.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HomeserverConfig } from '../../src/config/schema.js';
import { connectDb, register, request, startAxon, V1, type Account, type RunningAxon } from '../helpers/index.js';
import { createTestDatabase, testBackend, type TestDatabase } from '../helpers/pg.js';

const dir = mkdtempSync(path.join(tmpdir(), 'axon-crash-'));
const databases: TestDatabase[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const d of databases) await d.drop();
});
const enc = encodeURIComponent;

type DbRef = { config: HomeserverConfig };

/** A config file for `axon start` with a database of its own: a SQLite file, or a fresh PostgreSQL database. */
async function writeConfig(name: string): Promise<{ config: string; db: DbRef }> {
  const config = path.join(dir, `${name}.yaml`);
  let database: HomeserverConfig['database'];
  if (testBackend() === 'postgres') {
    const pgDb = await createTestDatabase();
    databases.push(pgDb);
    database = { name: 'postgres', args: { url: pgDb.url } } as HomeserverConfig['database'];
  } else {
    database = { name: 'sqlite3', args: { database: path.join(dir, `${name}.db`) } } as HomeserverConfig['database'];
  }
  writeFileSync(config, [
    'server_name: localhost',
    'listeners: [{port: 0, bind_addresses: ["127.0.0.1"]}]',
    `database: ${JSON.stringify(database)}`,
    'enable_registration: true',
    'rc_message: {per_second: 100000, burst_count: 1000000}',
    'rc_registration: {per_second: 100000, burst_count: 1000000}',
    'rc_login: {per_second: 100000, burst_count: 1000000}',
    `media_store_path: "${path.join(dir, `${name}-media`)}"`,
    'log_level: info',
    '',
  ].join('\n'));
  return { config, db: { config: { database } as HomeserverConfig } };
}

interface Attempt { client: number; txnId: string; marker: string; eventId?: string; outcome: 'ok' | 'refused' | 'lost' }

/** Each client sends one message after another with its own txnIds until `stop` says so. */
async function burst(url: string, roomId: string, clients: Account[], stop: () => boolean, attempts: Attempt[], tag: string): Promise<void> {
  await Promise.all(clients.map(async (who, client) => {
    for (let n = 0; !stop(); n++) {
      const txnId = `${tag}_c${client}_${n}`;
      const attempt: Attempt = { client, txnId, marker: `${tag}:${client}:${n}`, outcome: 'lost' };
      attempts.push(attempt);
      try {
        const res = await request<{ event_id?: string }>(url, 'PUT', `${V1}/rooms/${enc(roomId)}/send/m.room.message/${txnId}`,
          { token: who.accessToken, body: { msgtype: 'm.text', body: attempt.marker } });
        if (res.status === 200) {
          attempt.outcome = 'ok';
          attempt.eventId = res.body.event_id!;
        } else {
          attempt.outcome = 'refused';
        }
      } catch {
        return; // the connection died with the server: this attempt's outcome is unknown
      }
    }
  }));
}

interface Served { event_id: string; type: string; content: { body?: string } }
/** The whole room timeline through the API, newest first, paginating until the start. */
async function timeline(url: string, roomId: string, who: Account): Promise<Served[]> {
  const out: Served[] = [];
  let from: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const q = `dir=b&limit=100${from ? `&from=${enc(from)}` : ''}`;
    const res = await request<{ chunk: Served[]; end: string }>(url, 'GET', `${V1}/rooms/${enc(roomId)}/messages?${q}`, { token: who.accessToken });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    out.push(...res.body.chunk);
    if (res.body.chunk.length === 0 || res.body.end === from) break;
    from = res.body.end;
  }
  return out;
}

/**
 * Reads the database (of a dead or stopped process) and checks it: the problems found
 * (none is integrity), and the bodies of the stored messages.
 */
async function inspectDb(ref: DbRef): Promise<{ problems: string[]; bodies: string[] }> {
  const db = await connectDb(ref);
  const problems: string[] = [];
  try {
    if (db.backend === 'sqlite') {
      const rows = await db.query<{ integrity_check: string }>('PRAGMA integrity_check');
      const integrity = rows.map((r) => r.integrity_check).join(', ');
      if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
    }
    const dup = await db.query<{ event_id: string }>('SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1');
    for (const r of dup) problems.push(`duplicate event id ${r.event_id}`);
    const orderings = (await db.query<{ s: number | string }>('SELECT stream_ordering AS s FROM events ORDER BY stream_ordering'))
      .map((r) => Number(r.s));
    if (new Set(orderings).size !== orderings.length) problems.push('duplicate stream orderings');
    for (let i = 1; i < orderings.length; i++) {
      if (orderings[i] !== orderings[i - 1]! + 1) problems.push(`stream orderings jump from ${orderings[i - 1]} to ${orderings[i]}`);
    }
    const dangling = await db.query<{ event_id: string }>(`SELECT cs.event_id FROM current_state cs
      LEFT JOIN events e ON e.event_id = cs.event_id AND e.room_id = cs.room_id AND e.type = cs.type AND e.state_key = cs.state_key
      WHERE e.event_id IS NULL`);
    for (const r of dangling) problems.push(`current_state points at a missing event ${r.event_id}`);
    // Every membership row is the room's latest m.room.member event for that user, with its membership.
    const members = await db.query<{ room_id: string; user_id: string; membership: string; event_id: string }>(
      'SELECT room_id, user_id, membership, event_id FROM room_memberships');
    const latest = await db.query<{ room_id: string; state_key: string; event_id: string; content: string }>(`SELECT e.room_id, e.state_key, e.event_id, e.content
      FROM events e JOIN (SELECT room_id, state_key, max(stream_ordering) AS so FROM events WHERE type = 'm.room.member' AND state_key IS NOT NULL
        GROUP BY room_id, state_key) last ON last.so = e.stream_ordering`);
    const byKey = new Map(latest.map((r) => [`${r.room_id} ${r.state_key}`, r]));
    if (members.length !== latest.length) problems.push(`${members.length} membership rows for ${latest.length} members`);
    for (const m of members) {
      const ev = byKey.get(`${m.room_id} ${m.user_id}`);
      const membership = ev ? (JSON.parse(ev.content) as { membership?: string }).membership : undefined;
      if (!ev || ev.event_id !== m.event_id || membership !== m.membership) problems.push(`membership of ${m.user_id} in ${m.room_id} is stale`);
    }
    const rows = await db.query<{ content: string }>("SELECT content FROM events WHERE type = 'm.room.message'");
    return { problems, bodies: rows.map((r) => (JSON.parse(r.content) as { body: string }).body) };
  } finally {
    await db.close();
  }
}

async function setUp(hs: RunningAxon, n: number): Promise<{ clients: Account[]; roomId: string }> {
  const clients: Account[] = [];
  for (let i = 0; i < n; i++) clients.push(await register(hs.url));
  const created = await request<{ room_id: string }>(hs.url, 'POST', `${V1}/createRoom`, { token: clients[0]!.accessToken, body: { preset: 'public_chat' } });
  const roomId = created.body.room_id;
  for (const c of clients.slice(1)) expect((await request(hs.url, 'POST', `${V1}/join/${enc(roomId)}`, { token: c.accessToken, body: {} })).status).toBe(200);
  return { clients, roomId };
}

const count = <T>(xs: readonly T[], x: T): number => xs.filter((y) => y === x).length;

describe('crash safety of a real axon process', { timeout: 120_000 }, () => {
  it('SIGKILL mid-burst: every acknowledged send is stored exactly once, retries answer the original event, integrity ok', async () => {
    const { config, db } = await writeConfig('kill');
    let hs = await startAxon(config);
    const { clients, roomId } = await setUp(hs, 4);
    const attempts: Attempt[] = [];
    let killed = false;
    const sending = burst(hs.url, roomId, clients, () => killed, attempts, 'k');
    // Kill once a good number of sends were acknowledged, with more in flight.
    for (let i = 0; i < 400 && attempts.filter((a) => a.outcome === 'ok').length < 60; i++) await new Promise((r) => setTimeout(r, 25));
    const exited = new Promise((resolve) => hs.child.once('exit', resolve));
    hs.child.kill('SIGKILL');
    killed = true;
    await exited;
    await sending;
    const acked = attempts.filter((a) => a.outcome === 'ok');
    const unknown = attempts.filter((a) => a.outcome === 'lost');
    expect(acked.length).toBeGreaterThanOrEqual(20);

    // The dead process's database, as it was left.
    const after = await inspectDb(db);
    expect(after.problems).toEqual([]);
    for (const a of acked) expect(count(after.bodies, a.marker), a.marker).toBe(1);
    for (const a of unknown) expect(count(after.bodies, a.marker), a.marker).toBeLessThanOrEqual(1);

    hs = await startAxon(config);
    try {
      const events = await timeline(hs.url, roomId, clients[0]!);
      const bodies = events.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
      const ids = events.map((e) => e.event_id);
      for (const a of acked) {
        expect(count(bodies, a.marker), `${a.marker} stored once`).toBe(1);
        expect(count(ids, a.eventId!), `${a.eventId} served once`).toBe(1);
      }
      expect(new Set(ids).size).toBe(ids.length);
      // Retrying an acknowledged txnId answers the original event and stores nothing new.
      for (const a of acked.slice(-10)) {
        const retry = await request<{ event_id: string }>(hs.url, 'PUT', `${V1}/rooms/${enc(roomId)}/send/m.room.message/${a.txnId}`,
          { token: clients[a.client]!.accessToken, body: { msgtype: 'm.text', body: a.marker } });
        expect(retry.status).toBe(200);
        expect(retry.body.event_id).toBe(a.eventId);
      }
      // Sends whose answer was lost in the crash: the retry either finds the stored event or stores it now, once.
      for (const a of unknown) {
        const retry = await request<{ event_id: string }>(hs.url, 'PUT', `${V1}/rooms/${enc(roomId)}/send/m.room.message/${a.txnId}`,
          { token: clients[a.client]!.accessToken, body: { msgtype: 'm.text', body: a.marker } });
        expect(retry.status).toBe(200);
      }
      const again = (await timeline(hs.url, roomId, clients[0]!)).filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
      for (const a of [...acked, ...unknown]) expect(count(again, a.marker), a.marker).toBe(1);
      expect(again.length).toBe(bodies.length + unknown.filter((a) => count(bodies, a.marker) === 0).length);
    } finally {
      expect(await hs.stop()).toBe(0);
    }
    expect((await inspectDb(db)).problems).toEqual([]);
  });

  it('SIGTERM mid-burst with waiting polls: polls and in-flight sends are answered, acknowledged sends are durable, exit 0', async () => {
    const { config, db } = await writeConfig('term');
    let hs = await startAxon(config);
    const { clients, roomId } = await setUp(hs, 3);
    // A user in no room: its polls wait until their timeout, so they are parked at the signal.
    const idle = await register(hs.url);
    const { end } = (await request<{ end: string }>(hs.url, 'GET', `${V1}/initialSync?limit=0`, { token: idle.accessToken })).body;
    const attempts: Attempt[] = [];
    let stopping = false;
    // Each poll waits again from the new token if it is answered before the signal (the
    // idle user's own presence going online, for one).
    const poll = async (from: string | undefined): Promise<{ status: number; at: number }> => {
      for (;;) {
        const res = await request<{ end: string }>(hs.url, 'GET', `${V1}/events?${from ? `from=${enc(from)}&` : ''}timeout=30000`, { token: idle.accessToken });
        if (stopping || res.status !== 200) return { status: res.status, at: Date.now() };
        from = res.body.end;
      }
    };
    const polls = [...Array.from({ length: 3 }, () => poll(end)), ...Array.from({ length: 3 }, () => poll(undefined))];
    const sending = burst(hs.url, roomId, clients, () => stopping, attempts, 't');
    for (let i = 0; i < 400 && attempts.filter((a) => a.outcome === 'ok').length < 30; i++) await new Promise((r) => setTimeout(r, 25));
    stopping = true;
    const t0 = Date.now();
    const code = await hs.stop();
    const answered = await Promise.all(polls);
    await sending;
    expect(code).toBe(0);
    // The waiting polls were answered at the signal (not at their 30 s timeout), with a 200.
    for (const r of answered) {
      expect(r.status).toBe(200);
      expect(r.at).toBeGreaterThanOrEqual(t0);
      expect(r.at - t0).toBeLessThan(10_000);
    }
    // A graceful stop answers what it accepted: no send is left without an answer.
    const acked = attempts.filter((a) => a.outcome === 'ok');
    expect(attempts.filter((a) => a.outcome === 'lost').length).toBeLessThanOrEqual(clients.length);
    expect((await inspectDb(db)).problems).toEqual([]);
    hs = await startAxon(config);
    try {
      const bodies = (await timeline(hs.url, roomId, clients[0]!)).map((e) => e.content.body);
      for (const a of acked) expect(count(bodies, a.marker), a.marker).toBe(1);
    } finally {
      expect(await hs.stop()).toBe(0);
    }
  });
});
