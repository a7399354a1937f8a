/**
 * Resources a client can hold: sockets (slow headers, slow bodies, oversized headers,
 * garbage), and waiting polls (a client that goes away mid-poll frees everything).
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverLimits } from '../../src/http/server-limits.js';
import { register, request, V1, type Account, type TestServer } from '../helpers/index.js';
import { startSecurityServer } from './util.js';

let srv: TestServer;
let alice: Account;

beforeAll(async () => {
  // Short limits, so the test sees them act (production: 20 s / 60 s).
  Object.assign(serverLimits, { headersTimeout: 600, requestTimeout: 1_200, connectionsCheckingInterval: 100 });
  srv = await startSecurityServer();
  alice = await register(srv.baseUrl);
}, 30_000);
afterAll(async () => { await srv.close(); });

/** A raw connection: what it received and when it was closed. */
function open(): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const url = new URL(srv.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let data = '';
    const t0 = Date.now();
    socket.on('data', (d: Buffer) => { data += d.toString(); });
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - t0)));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** A stream token past everything alice has to see, so a poll from it parks. */
async function caughtUp(): Promise<string> {
  let from = (await request<{ end: string }>(srv.baseUrl, 'GET', `${V1}/events?timeout=0`, { token: alice.accessToken })).body.end;
  for (let i = 0; i < 10; i++) {
    const r = await request<{ end: string; chunk: unknown[] }>(srv.baseUrl, 'GET', `${V1}/events?timeout=0&from=${encodeURIComponent(from)}`, { token: alice.accessToken });
    from = r.body.end;
    if (r.body.chunk.length === 0) break;
  }
  return from;
}

const statusOf = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
const jsonOf = (raw: string): { errcode?: string } => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { errcode?: string };

describe('socket limits', () => {
  it('slow loris: headers dripped one line at a time are cut off at headersTimeout with a 408 Matrix error', async () => {
    const c = await open();
    c.socket.write(`GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n`);
    const drip = setInterval(() => { if (!c.socket.destroyed) c.socket.write(`X-Drip-${Date.now()}: y\r\n`); }, 100);
    const ms = await c.closed;
    clearInterval(drip);
    expect(ms).toBeLessThan(3_000);
    expect(statusOf(c.received())).toBe(408);
    expect(jsonOf(c.received()).errcode).toBe('M_UNKNOWN');
  });

  it('a body that never finishes is cut off at requestTimeout', async () => {
    const c = await open();
    c.socket.write(`POST ${V1}/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"type":`);
    const drip = setInterval(() => { if (!c.socket.destroyed) c.socket.write(' '); }, 100);
    const ms = await c.closed;
    clearInterval(drip);
    expect(ms).toBeLessThan(4_000);
    expect([408, 400]).toContain(statusOf(c.received()));
  });

  it('an idle connection that sends nothing is closed too', async () => {
    const c = await open();
    expect(await c.closed).toBeLessThan(7_000);
  }, 10_000);

  it('oversized headers get 431 M_TOO_LARGE, garbage gets 400, both as JSON; the server stays up', async () => {
    const big = await open();
    big.socket.write(`GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await big.closed;
    expect(statusOf(big.received())).toBe(431);
    expect(jsonOf(big.received()).errcode).toBe('M_TOO_LARGE');
    const junk = await open();
    junk.socket.write('\x00\x01\x02 NOT HTTP\r\n\r\n');
    await junk.closed;
    expect(statusOf(junk.received())).toBe(400);
    expect(jsonOf(junk.received()).errcode).toBe('M_UNKNOWN');
    expect((await request(srv.baseUrl, 'GET', '/_matrix/client/versions')).status).toBe(200);
  });

  it('requestTimeout does not cut a long-poll: a 2.5 s /events wait is answered 200', async () => {
    const from = await caughtUp();
    const t0 = Date.now();
    const res = await request(srv.baseUrl, 'GET', `${V1}/events?timeout=2500&from=${encodeURIComponent(from)}`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThan(1_200);
  }, 15_000);
});

describe('waiting polls', () => {
  it('clients that vanish mid-poll free their waits, timers and listeners; memory stays flat over rounds', async () => {
    // one user opens 200 at once here: lift the per-user cap (poll-cap.test.ts tests the cap)
    srv.hs.context.sync.configure({ maxWaitingPollsPerUser: 1000 });
    const notifier = srv.hs.context.notifier;
    const from = await caughtUp();
    const heap: number[] = [];
    for (let round = 0; round < 4; round++) {
      const sockets: Socket[] = [];
      for (let i = 0; i < 200; i++) {
        const c = await open();
        c.socket.write(`GET ${V1}/events?timeout=60000&from=${encodeURIComponent(from)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.accessToken}\r\n\r\n`);
        sockets.push(c.socket);
      }
      for (let i = 0; i < 200 && notifier.stats().waiters < 200; i++) await new Promise((r) => setTimeout(r, 20));
      expect(notifier.stats().waiters).toBe(200);
      for (const s of sockets) s.destroy();
      for (let i = 0; i < 200 && notifier.stats().activeWaits > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(notifier.stats()).toMatchObject({ waiters: 0, activeWaits: 0, timers: 0, abortListeners: 0 });
      (globalThis as { gc?: () => void }).gc?.();
      heap.push(process.memoryUsage().heapUsed);
    }
    // Rounds 2..4 do not keep what round 1 allocated (loose: without --expose-gc the heap is noisy).
    expect(heap[3]! - heap[1]!).toBeLessThan(40 * 1024 * 1024);
  }, 60_000);
});
