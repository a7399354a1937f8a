/**
 * The event persister (docs/scaling.md): a process with `event_persister` set hands its
 * room messages to that process's replication listener, which stores them with its own;
 * when the persister cannot be reached it stores them itself. Runs in the PostgreSQL
 * project only. (multi-process.test.ts runs the three-process suite with a persister too.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort, metricSample, register, request, REPLICATION_SECRET, startAxon, V1, writePostgresConfig, type Account, type RunningAxon,
} from '../helpers/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { createRoom, enc, events, follow, membership } from '../sync/util.js';

const SEND_MESSAGES = '/_axon/replication/v1/send_messages';

let db: TestDatabase;
let dir: string;
let persisterConfig: string;
let persister: RunningAxon;
let forwarder: RunningAxon;
let replicationUrl: string;
const metricsUrl = { persister: '', forwarder: '' };

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'axon-persister-'));
  const [replicationPort, persisterMetrics, forwarderMetrics] = [await freePort(), await freePort(), await freePort()];
  replicationUrl = `http://127.0.0.1:${replicationPort}`;
  metricsUrl.persister = `http://127.0.0.1:${persisterMetrics}`;
  metricsUrl.forwarder = `http://127.0.0.1:${forwarderMetrics}`;
  const metrics = (port: number) => ({ port, bind_addresses: ['127.0.0.1'], type: 'metrics' });
  persisterConfig = writePostgresConfig(dir, db.url, 3, {
    name: 'persister.yaml',
    listeners: [{ port: replicationPort, bind_addresses: ['127.0.0.1'], type: 'replication' }, metrics(persisterMetrics)],
    extra: { worker_replication_secret: REPLICATION_SECRET, enable_metrics: true },
  });
  const forwarderConfig = writePostgresConfig(dir, db.url, 3, {
    name: 'forwarder.yaml',
    listeners: [metrics(forwarderMetrics)],
    extra: { worker_replication_secret: REPLICATION_SECRET, event_persister: replicationUrl, enable_metrics: true },
  });
  persister = await startAxon(persisterConfig);
  forwarder = await startAxon(forwarderConfig);
}, 60_000);

afterAll(async () => {
  await Promise.all([persister?.stop(), forwarder?.stop()]);
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

const forwarded = (): Promise<number> => metricSample(metricsUrl.forwarder, 'axon_event_persister_messages_total{outcome="forwarded"}');
const storedHere = (): Promise<number> => metricSample(metricsUrl.forwarder, 'axon_event_persister_messages_total{outcome="stored_here"}');
const persistedBy = (base: string): Promise<number> => metricSample(base, 'axon_events_persisted_total');

function put(base: string, who: Account, roomId: string, txnId: string, content: unknown, type = 'm.room.message') {
  return request<{ event_id: string; errcode?: string; error?: string }>(base, 'PUT', `${V1}/rooms/${enc(roomId)}/send/${type}/${txnId}`,
    { token: who.accessToken, body: content });
}

describe('a process forwarding room messages to the event persister', () => {
  let alice: Account;
  let bob: Account;
  let roomId: string;

  beforeAll(async () => {
    alice = await register(forwarder.url);
    bob = await register(persister.url);
    roomId = await createRoom(forwarder.url, alice, { preset: 'public_chat' });
    expect(await membership(persister.url, bob, roomId, 'join')).toBe(200);
  }, 30_000);

  it('has the persister store them, and both processes deliver them in one order', async () => {
    const from = (await events(persister.url, bob, { timeout: 0 })).body.end;
    const [f0, p0, h0] = [await forwarded(), await persistedBy(metricsUrl.persister), await persistedBy(metricsUrl.forwarder)];
    const sent = await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
      const res = await put(i % 2 ? persister.url : forwarder.url, alice, roomId, `one-order-${i}`, { msgtype: 'm.text', body: `m${i}` });
      expect(res.status).toBe(200);
      return res.body.event_id;
    }));
    expect(await forwarded()).toBe(f0 + 3);
    expect(await persistedBy(metricsUrl.persister)).toBe(p0 + 5);
    expect(await persistedBy(metricsUrl.forwarder)).toBe(h0);
    const seen = await Promise.all([persister.url, forwarder.url].map(async (base) => {
      const { all } = await follow(base, bob, from, (a) => a.filter((e) => e['type'] === 'm.room.message').length >= 5, 10_000);
      return all.filter((e) => e['type'] === 'm.room.message').map((e) => e['event_id']);
    }));
    expect(new Set(seen[0])).toEqual(new Set(sent));
    expect(seen[1]).toEqual(seen[0]);
  });

  it('answers a txnId retry with the first event, on either process', async () => {
    const first = await put(forwarder.url, alice, roomId, 'again', { msgtype: 'm.text', body: 'once' });
    expect(first.status).toBe(200);
    for (const base of [forwarder.url, persister.url, forwarder.url]) {
      const retry = await put(base, alice, roomId, 'again', { msgtype: 'm.text', body: 'once' });
      expect(retry.body.event_id).toBe(first.body.event_id);
    }
  });

  it('gives the client the same Matrix errors as the persister would', async () => {
    const carol = await register(forwarder.url);
    const [f0, s0] = [await forwarded(), await storedHere()];
    const cases: [string, string, Account, unknown][] = [
      ['not in the room', roomId, carol, { msgtype: 'm.text', body: 'hi' }],
      ['no such room', '!nowhere:localhost', alice, { msgtype: 'm.text', body: 'hi' }],
      ['too large', roomId, alice, { msgtype: 'm.text', body: 'x'.repeat(70_000) }],
    ];
    for (const [what, room, who, content] of cases) {
      const there = await put(forwarder.url, who, room, `err-${what}`, content);
      const here = await put(persister.url, who, room, `err-p-${what}`, content);
      expect(there.status, what).toBeGreaterThanOrEqual(400);
      expect([there.status, there.body.errcode, there.body.error], what).toEqual([here.status, here.body.errcode, here.body.error]);
    }
    // the persister gave those answers, not a fallback here
    expect(await forwarded()).toBe(f0 + cases.length);
    expect(await storedHere()).toBe(s0);
  });

  it('stores state events, redactions and messages without a txnId itself', async () => {
    const f0 = await forwarded();
    const h0 = await persistedBy(metricsUrl.forwarder);
    const topic = await request(forwarder.url, 'PUT', `${V1}/rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.accessToken, body: { topic: 'here' } });
    expect(topic.status).toBe(200);
    const posted = await request<{ event_id: string }>(forwarder.url, 'POST', `${V1}/rooms/${enc(roomId)}/send/m.room.message`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: 'no txn' } });
    expect(posted.status).toBe(200);
    const redaction = await request(forwarder.url, 'PUT', `${V1}/rooms/${enc(roomId)}/redact/${enc(posted.body.event_id)}/r1`, { token: alice.accessToken, body: {} });
    expect(redaction.status).toBe(200);
    expect(await forwarded()).toBe(f0);
    expect(await persistedBy(metricsUrl.forwarder)).toBe(h0 + 3);
  });

  it('stores messages itself while the persister is down, and forwards again once it is back', async () => {
    const [f0, s0] = [await forwarded(), await storedHere()];
    expect(await persister.stop()).toBe(0);
    const down = await put(forwarder.url, alice, roomId, 'while-down', { msgtype: 'm.text', body: 'nobody there' });
    expect(down.status).toBe(200);
    expect(await storedHere()).toBe(s0 + 1);
    persister = await startAxon(persisterConfig);
    // the event stored meanwhile is there for the persister's clients
    const sync = await request<{ chunk: Array<{ event_id: string }> }>(persister.url, 'GET', `${V1}/rooms/${enc(roomId)}/messages?dir=b&limit=1`, { token: bob.accessToken });
    expect(sync.body.chunk.map((e) => e.event_id)).toEqual([down.body.event_id]);
    // a pause of 1 s before the persister is tried again
    await new Promise((r) => setTimeout(r, 1_100));
    const back = await put(forwarder.url, alice, roomId, 'back', { msgtype: 'm.text', body: 'welcome back' });
    expect(back.status).toBe(200);
    expect(await forwarded()).toBe(f0 + 1);
    expect(await storedHere()).toBe(s0 + 1);
  }, 30_000);

  it('loses and doubles nothing when the persister is killed under load', async () => {
    const from = (await events(forwarder.url, bob, { timeout: 0 })).body.end;
    const [f0, s0] = [await forwarded(), await storedHere()];
    const count = 60;
    let answered = 0;
    const sends = Array.from({ length: count }, async (_, i) => {
      // spread over a moment, so that some are answered before the kill and some after
      await new Promise((r) => setTimeout(r, i * 5));
      const res = await put(forwarder.url, alice, roomId, `kill-${i}`, { msgtype: 'm.text', body: `kill ${i}` });
      answered += 1;
      return res;
    });
    while (answered < 10) await new Promise((r) => setTimeout(r, 5));
    persister.child.kill('SIGKILL');
    const results = await Promise.all(sends);
    for (const r of results) expect(r.status, JSON.stringify(r.body)).toBe(200);
    const ids = results.map((r) => r.body.event_id);
    expect(new Set(ids).size).toBe(count);
    // both ways were taken: to the persister before the kill, stored here after it
    expect(await forwarded()).toBeGreaterThanOrEqual(f0 + 10);
    expect(await storedHere()).toBeGreaterThan(s0);
    persister = await startAxon(persisterConfig);
    // each txnId made one event: the same id on a retry, and once in the room
    for (const i of [0, 20, 40, 59]) {
      expect((await put(forwarder.url, alice, roomId, `kill-${i}`, { msgtype: 'm.text', body: `kill ${i}` })).body.event_id).toBe(ids[i]);
    }
    const { all } = await follow(persister.url, bob, from, (a) => a.filter((e) => String((e['content'] as { body?: unknown }).body).startsWith('kill ')).length >= count, 15_000);
    const seen = all.filter((e) => String((e['content'] as { body?: unknown }).body).startsWith('kill ')).map((e) => e['event_id']);
    expect(seen.length).toBe(count);
    expect(new Set(seen)).toEqual(new Set(ids));
  }, 60_000);
});

describe('the replication listener', () => {
  const post = (headers: Record<string, string>, body: string, method = 'POST', where = SEND_MESSAGES) =>
    fetch(replicationUrl + where, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: method === 'GET' ? undefined : body })
      .then(async (r) => ({ status: r.status, body: await r.json() as Record<string, unknown> }));
  const auth = { Authorization: `Bearer ${REPLICATION_SECRET}` };

  it.each([
    ['no secret', {}, '{"messages":[]}', 'POST', SEND_MESSAGES, 401, 'M_MISSING_TOKEN'],
    ['the wrong secret', { Authorization: 'Bearer guess' }, '{"messages":[]}', 'POST', SEND_MESSAGES, 403, 'M_FORBIDDEN'],
    ['another path', auth, '{"messages":[]}', 'POST', '/_matrix/client/api/v1/events', 404, 'M_UNRECOGNIZED'],
    ['GET', auth, '', 'GET', SEND_MESSAGES, 405, 'M_UNRECOGNIZED'],
    ['a body not JSON', auth, '{"messages":', 'POST', SEND_MESSAGES, 400, 'M_NOT_JSON'],
    ['messages not a list', auth, '{"messages":{}}', 'POST', SEND_MESSAGES, 400, 'M_BAD_JSON'],
    ['a message without content', auth, '{"messages":[{"user_id":"@a:localhost","token_hash":"h","room_id":"!r:localhost","type":"m.room.message","txn_id":"t"}]}',
      'POST', SEND_MESSAGES, 400, 'M_BAD_JSON'],
  ])('refuses %s with a Matrix error', async (_what, headers, body, method, where, status, errcode) => {
    const res = await post(headers as Record<string, string>, body, method as string, where as string);
    expect(res.status).toBe(status);
    expect(res.body['errcode']).toBe(errcode);
    expect(typeof res.body['error']).toBe('string');
  });

  it('with the secret, stores each message and answers for each in order', async () => {
    const dave = await register(persister.url);
    const roomId = await createRoom(persister.url, dave);
    const message = (txn: string, room = roomId) => ({ user_id: dave.userId, token_hash: 'direct', room_id: room, type: 'm.room.message', content: { msgtype: 'm.text', body: txn }, txn_id: txn });
    const res = await post(auth, JSON.stringify({ messages: [message('d1'), message('d2', '!nowhere:localhost'), message('d1')] }));
    expect(res.status).toBe(200);
    const results = res.body['results'] as Array<{ event?: { event_id: string; sender: string }; status?: number; errcode?: string }>;
    expect(results, JSON.stringify(results)).toHaveLength(3);
    expect(results[0], JSON.stringify(results)).toHaveProperty('event');
    expect(results[0]!.event!.sender).toBe(dave.userId);
    expect(results[1]).toMatchObject({ status: 404, errcode: 'M_NOT_FOUND' });
    expect(results[2]!.event!.event_id).toBe(results[0]!.event!.event_id);
  });
});
