/**
 * Crashes, on a real `axon start` process: SIGKILL in the middle of bursts of sends from
 * several clients, a restart on the same database, then every acknowledged send is stored
 * exactly once (read back through GET /rooms/{id}/messages and straight from SQLite),
 * txnId retries answer the original event_id, and the database passes its integrity
 * check. SIGTERM during sends: acknowledged writes are durable and the exit code is 0.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { register, request, startAxon, V1, type Account, type RunningAxon } from '../helpers/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'axon-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const enc = encodeURIComponent;

function writeConfig(name: string): { config: string; db: string } {
  const db = path.join(dir, `${name}.db`);
  const config = path.join(dir, `${name}.yaml`);
  writeFileSync(config, [
    'server_name: localhost',
    'listeners: [{port: 0, bind_addresses: ["127.0.0.1"]}]',
    `database: {name: sqlite3, args: {database: "${db}"}}`,
    'enable_registration: true',
    'rc_message: {per_second: 100000, burst_count: 1000000}',
    'rc_registration: {per_second: 100000, burst_count: 1000000}',
    'rc_login: {per_second: 100000, burst_count: 1000000}',
    `media_store_path: "${path.join(dir, `${name}-media`)}"`,
    'log_level: info',
    '',
  ].join('\n'));
  return { config, db };
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

/** Opens the database of a dead process (read-only) and checks it. */
function inspectDb(file: string): { integrity: string; bodies: string[] } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join(', ');
    const rows = db.prepare("SELECT content FROM events WHERE type = 'm.room.message'").all() as { content: string }[];
    return { integrity, bodies: rows.map((r) => (JSON.parse(r.content) as { body: string }).body) };
  } finally {
    db.close();
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
    const { config, db } = writeConfig('kill');
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
    const after = inspectDb(db);
    expect(after.integrity).toBe('ok');
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
    expect(inspectDb(db).integrity).toBe('ok');
  });

  it('SIGTERM mid-burst: in-flight sends are answered, acknowledged ones are durable, exit 0', async () => {
    const { config, db } = writeConfig('term');
    let hs = await startAxon(config);
    const { clients, roomId } = await setUp(hs, 3);
    const attempts: Attempt[] = [];
    let stopping = false;
    const sending = burst(hs.url, roomId, clients, () => stopping, attempts, 't');
    for (let i = 0; i < 400 && attempts.filter((a) => a.outcome === 'ok').length < 30; i++) await new Promise((r) => setTimeout(r, 25));
    stopping = true;
    const code = await hs.stop();
    await sending;
    expect(code).toBe(0);
    // A graceful stop answers what it accepted: no send is left without an answer.
    const acked = attempts.filter((a) => a.outcome === 'ok');
    expect(attempts.filter((a) => a.outcome === 'lost').length).toBeLessThanOrEqual(clients.length);
    expect(inspectDb(db).integrity).toBe('ok');
    hs = await startAxon(config);
    try {
      const bodies = (await timeline(hs.url, roomId, clients[0]!)).map((e) => e.content.body);
      for (const a of acked) expect(count(bodies, a.marker), a.marker).toBe(1);
    } finally {
      expect(await hs.stop()).toBe(0);
    }
  });
});
