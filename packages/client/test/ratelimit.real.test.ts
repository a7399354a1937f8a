/**
 * Backoff on 429 and 5xx against the real server. The events() stream is driven through a
 * fault-injecting proxy that delegates to a real Axon (the /events API is not rate limited);
 * real 429s come from the server's rc_message limit (issue 7).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, isMatrixError, type MatrixClient, type RetryInfo } from '../src/index.js';
import { pendingOn, probeServer, startAxon, type AxonProcess } from './helpers/axon.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';

const features = await probeServer();

describe.skipIf(pendingOn(features, 'rateLimits', 'real-server 429 tests (issue 7 rate limiting)'))('429 from the real rc_message limit', () => {
  let axon: AxonProcess;
  let alice: MatrixClient;
  let roomId: string;
  beforeAll(async () => {
    axon = await startAxon({ rateLimits: 'default' });
    alice = await createClient({ baseUrl: axon.url }).register({ username: 'alice', password: 'pw' });
    ({ room_id: roomId } = await alice.createRoom());
  }, 30_000);
  afterAll(async () => { await axon?.stop(); });

  it('should throw MatrixError M_LIMIT_EXCEEDED with retryAfterMs, then succeed with retry honouring it', async () => {
    let limited: unknown;
    for (let i = 0; i < 30 && limited === undefined; i++) {
      await alice.sendText(roomId, `flood ${i}`).catch((e: unknown) => { limited = e; });
    }
    expect(isMatrixError(limited) && limited.errcode).toBe('M_LIMIT_EXCEEDED');
    if (!isMatrixError(limited)) return;
    expect(limited.httpStatus).toBe(429);
    expect(limited.retryAfterMs).toBeGreaterThan(0);

    const retries: RetryInfo[] = [];
    const started = Date.now();
    const { event_id: eventId } = await alice.sendText(roomId, 'patient', { retry: { onRetry: (r) => retries.push(r) } });
    expect(eventId).toMatch(/^\$/);
    expect(retries.length).toBeGreaterThan(0);
    const waited = retries.reduce((sum, r) => sum + r.delayMs, 0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(waited);
    for (const r of retries) if (isMatrixError(r.error) && r.error.retryAfterMs !== undefined) expect(r.delayMs).toBeGreaterThanOrEqual(r.error.retryAfterMs);
  }, 60_000);
});

describe.skipIf(pendingOn(features, 'sync', 'events() backoff through a proxy to the real server (issue 5)'))('events() backoff, proxied to the real server', () => {
  let axon: AxonProcess;
  let proxy: FaultProxy;
  beforeAll(async () => { axon = await startAxon(); }, 30_000);
  afterAll(async () => { await axon?.stop(); });
  afterEach(async () => { await proxy?.close(); });

  it('should wait out an injected 429 and 5xx answers and then deliver every event once', async () => {
    proxy = await startFaultProxy({ target: axon.url });
    const anon = createClient({ baseUrl: proxy.url });
    const alice = await anon.register({ username: 'alice', password: 'pw' });
    const { room_id: roomId } = await alice.createRoom();
    const { end } = await alice.initialSync({ limit: 0 });
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) sent.push((await alice.sendText(roomId, `before ${i}`)).event_id);

    proxy.inject('/events',
      { kind: 'status', status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down', retry_after_ms: 300 } },
      { kind: 'status', status: 500 }, { kind: 'drop' }, { kind: 'status', status: 503 });
    const retries: RetryInfo[] = [];
    const received: string[] = [];
    const controller = new AbortController();
    for await (const batch of alice.events({ from: end, timeout: 1000, signal: controller.signal, retry: { initialDelayMs: 50, onRetry: (r) => retries.push(r) } })) {
      for (const event of batch.events) if (event.type === 'm.room.message') received.push(event.event_id ?? '?');
      if (received.length === 3) sent.push((await alice.sendText(roomId, 'after')).event_id);
      if (received.length >= 4) controller.abort();
    }
    expect(received).toEqual(sent);
    expect(retries.map((r) => (isMatrixError(r.error) ? r.error.httpStatus : 'network'))).toEqual([429, 500, 'network', 503]);
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(300);
    const eventsRequests = proxy.requests.filter((r) => r.path.endsWith('/events'));
    expect(eventsRequests.slice(0, 5).map((r) => r.query.get('from'))).toEqual([end, end, end, end, end]);
  }, 30_000);
});
