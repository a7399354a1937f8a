/**
 * The stream's retry logic against a local stub server (test/helpers/fault-proxy.ts) serving
 * a small in-memory /events stream, with injected 429s, 5xxs and dropped connections. The same
 * logic against the real server is in events.real.test.ts and resume.real.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, isMatrixError, type EventBatch, type RetryInfo } from '../src/index.js';
import { startFaultProxy, type FakeEvent, type FaultProxy } from './helpers/fault-proxy.js';

const ev = (n: number): FakeEvent => ({ event_id: `$e${n}:localhost`, type: 'm.room.message', room_id: '!r:localhost', sender: '@a:localhost', content: { body: `${n}` } });

let proxy: FaultProxy | undefined;
afterEach(async () => { await proxy?.close(); proxy = undefined; });

async function collect(stream: AsyncIterable<EventBatch>, count: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const batch of stream) {
    for (const event of batch.events) ids.push(event.event_id ?? '?');
    if (ids.length >= count) break;
  }
  return ids;
}

describe('events() retry and backoff (stub server)', () => {
  it('should honour retry_after_ms on 429 and lose nothing', async () => {
    proxy = await startFaultProxy();
    proxy.push(ev(1), ev(2));
    proxy.inject('/events', { kind: 'status', status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down', retry_after_ms: 400 } });
    const retries: RetryInfo[] = [];
    const client = createClient({ baseUrl: proxy.url, accessToken: 't' });
    const stream = client.events({ from: 's0', timeout: 1000, retry: { initialDelayMs: 10, onRetry: (i) => retries.push(i) } });
    expect(await collect(stream, 2)).toEqual(['$e1:localhost', '$e2:localhost']);
    expect(retries).toHaveLength(1);
    expect(isMatrixError(retries[0]?.error) && retries[0]?.error.errcode).toBe('M_LIMIT_EXCEEDED');
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(400);
    const [limited, next] = proxy.requests;
    expect(limited?.outcome).toBe('status');
    expect(next!.at - limited!.at).toBeGreaterThanOrEqual(390);
    expect(next?.query.get('from')).toBe('s0'); // the failed request is repeated, not skipped
    expect(stream.token).toBe('s2');
  });

  it('should back off exponentially with jitter on 5xx and on dropped connections', async () => {
    proxy = await startFaultProxy();
    proxy.push(ev(1));
    proxy.inject('/events',
      { kind: 'status', status: 500 }, { kind: 'status', status: 502, body: 'Bad gateway' },
      { kind: 'drop' }, { kind: 'status', status: 503 });
    const retries: RetryInfo[] = [];
    const client = createClient({ baseUrl: proxy.url });
    const stream = client.events({ from: 's0', timeout: 1000, retry: { initialDelayMs: 40, maxDelayMs: 1000, onRetry: (i) => retries.push(i) } });
    expect(await collect(stream, 1)).toEqual(['$e1:localhost']);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3, 4]);
    // equal jitter: step/2 <= delay <= step, step = 40, 80, 160, 320
    retries.forEach((r, i) => {
      const step = 40 * 2 ** i;
      expect(r.delayMs).toBeGreaterThanOrEqual(step / 2);
      expect(r.delayMs).toBeLessThanOrEqual(step);
    });
    expect(isMatrixError(retries[1]?.error) && retries[1]?.error.httpStatus).toBe(502);
    expect(isMatrixError(retries[2]?.error)).toBe(false); // the dropped connection: a fetch error
    expect(proxy.requests.every((r) => r.query.get('from') === 's0')).toBe(true);
  });

  it('should reset the backoff after a success and keep streaming across faults without skips or repeats', async () => {
    proxy = await startFaultProxy();
    const client = createClient({ baseUrl: proxy.url });
    const stream = client.events({ from: 's0', timeout: 200, retry: { initialDelayMs: 10 } });
    const seen: string[] = [];
    let n = 0;
    proxy.push(ev(++n));
    for await (const batch of stream) {
      seen.push(...batch.events.map((e) => e.event_id ?? '?'));
      if (n === 20) break;
      // a fault before every other batch, events arriving meanwhile
      if (n % 2 === 0) proxy.inject('/events', n % 4 === 0 ? { kind: 'drop' } : { kind: 'status', status: 500 });
      proxy.push(ev(++n));
      if (n % 3 === 0) proxy.push(ev(++n));
    }
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `$e${i + 1}:localhost`));
  });

  it('should drop an event the server repeats (dedupe by event_id)', async () => {
    proxy = await startFaultProxy();
    proxy.push(ev(1), ev(2), ev(2), ev(3));
    const client = createClient({ baseUrl: proxy.url });
    expect(await collect(client.events({ from: 's0', timeout: 100 }), 3)).toEqual(['$e1:localhost', '$e2:localhost', '$e3:localhost']);
  });

  it('should throw a MatrixError that is not worth retrying (401, 400)', async () => {
    proxy = await startFaultProxy();
    proxy.inject('/events', { kind: 'status', status: 401, body: { errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown token' } });
    const client = createClient({ baseUrl: proxy.url, accessToken: 'bad' });
    const error = await collect(client.events({ from: 's0' }), 1).catch((e: unknown) => e);
    expect(isMatrixError(error) && error.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('should give up after maxAttempts consecutive failures', async () => {
    proxy = await startFaultProxy();
    proxy.inject('/events', ...Array.from({ length: 5 }, () => ({ kind: 'status' as const, status: 503 })));
    const client = createClient({ baseUrl: proxy.url });
    const error = await collect(client.events({ from: 's0', retry: { initialDelayMs: 5, maxAttempts: 2 } }), 1).catch((e: unknown) => e);
    expect(isMatrixError(error) && error.httpStatus).toBe(503);
    expect(proxy.requests).toHaveLength(3);
  });

  it('should stop cleanly when aborted during a long-poll and during a backoff wait', async () => {
    proxy = await startFaultProxy();
    const client = createClient({ baseUrl: proxy.url });
    const polling = new AbortController();
    const started = Date.now();
    setTimeout(() => polling.abort(), 150);
    expect(await collect(client.events({ from: 's0', timeout: 20_000, signal: polling.signal }), 1)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);

    proxy.inject('/events', { kind: 'status', status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', error: 'x', retry_after_ms: 60_000 } });
    const waiting = new AbortController();
    const stream = client.events({ from: 's0', signal: waiting.signal, retry: { onRetry: () => setTimeout(() => waiting.abort(), 50) } });
    const t0 = Date.now();
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('should retry a request that gets no answer within requestTimeoutMs', async () => {
    proxy = await startFaultProxy();
    proxy.push(ev(1));
    // A server that holds the first request far beyond the long-poll timeout: simulated by a
    // fetch that never resolves for the first call.
    let calls = 0;
    const client = createClient({
      baseUrl: proxy.url,
      fetch: (request) => {
        calls += 1;
        if (calls === 1) return new Promise<Response>((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason)));
        return fetch(request);
      },
    });
    const ids = await collect(client.events({ from: 's0', timeout: 100, requestTimeoutMs: 200, retry: { initialDelayMs: 10 } }), 1);
    expect(ids).toEqual(['$e1:localhost']);
    expect(calls).toBe(2);
  });
});
