import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, type TestServer } from '../helpers/index.js';

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { await srv.close(); });

describe('waiting polls per user', () => {
  it('are capped: the next one is 429 M_LIMIT_EXCEEDED, timeout=0 still answers, and a freed slot is usable again', async () => {
    srv.hs.context.sync.configure({ maxWaitingPollsPerUser: 3 });
    const alice = await register(srv.baseUrl);
    // Polling brings alice online; read past her own presence so the polls below park.
    let body = (await request<{ end: string; chunk: unknown[] }>(srv.baseUrl, 'GET', `${V1}/events?timeout=0`, { token: alice.accessToken })).body;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const next = (await request<{ end: string; chunk: unknown[] }>(srv.baseUrl, 'GET', `${V1}/events?timeout=0&from=${body.end}`, { token: alice.accessToken })).body;
      const quiet = next.chunk.length === 0;
      body = next;
      if (quiet) break;
    }
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    const parked = controllers.map((c) => fetch(`${srv.baseUrl}${V1}/events?timeout=20000&from=${body.end}`, {
      headers: { Authorization: `Bearer ${alice.accessToken}` }, signal: c.signal,
    }).catch(() => undefined));
    for (let i = 0; i < 100 && srv.hs.context.sync.waitingPolls(alice.userId) < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(srv.hs.context.sync.waitingPolls(alice.userId)).toBe(3);
    const over = await request<{ errcode: string; retry_after_ms: number }>(srv.baseUrl, 'GET', `${V1}/events?timeout=20000&from=${body.end}`, { token: alice.accessToken });
    expect(over.status).toBe(429);
    expect(over.body.errcode).toBe('M_LIMIT_EXCEEDED');
    expect(over.body.retry_after_ms).toBeGreaterThan(0);
    const now = await request(srv.baseUrl, 'GET', `${V1}/events?timeout=0&from=${body.end}`, { token: alice.accessToken });
    expect(now.status).toBe(200);
    controllers[0]!.abort();
    await parked[0];
    for (let i = 0; i < 100 && srv.hs.context.sync.waitingPolls(alice.userId) > 2; i++) await new Promise((r) => setTimeout(r, 20));
    const again = fetch(`${srv.baseUrl}${V1}/events?timeout=20000&from=${body.end}`, { headers: { Authorization: `Bearer ${alice.accessToken}` }, signal: controllers[0]!.signal }).catch(() => undefined);
    const fresh = new AbortController();
    const next = fetch(`${srv.baseUrl}${V1}/events?timeout=20000&from=${body.end}`, { headers: { Authorization: `Bearer ${alice.accessToken}` }, signal: fresh.signal }).catch(() => undefined);
    for (let i = 0; i < 100 && srv.hs.context.sync.waitingPolls(alice.userId) < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(srv.hs.context.sync.waitingPolls(alice.userId)).toBe(3);
    for (const c of [...controllers, fresh]) c.abort();
    await Promise.all([...parked, again, next]);
    expect(srv.specViolations()).toEqual([]);
  });
});
