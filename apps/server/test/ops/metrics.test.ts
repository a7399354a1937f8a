import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/config/load.js';
import { Notifier } from '../../src/domain/sync/notifier.js';
import { ZERO_TOKEN } from '../../src/domain/sync/stream-token.js';
import { register, request, startServer, V1, type TestServer } from '../helpers/index.js';

/** A small parser of Prometheus' text exposition format: `name{labels} value` lines, plus HELP/TYPE. */
interface Sample { name: string; labels: Record<string, string>; value: number }
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) { types.set(type[1]!, type[2]!); continue; }
    if (line.startsWith('#')) { expect(line).toMatch(/^# HELP \S+ .+$/); continue; }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!.replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    // NaN is valid exposition, and prom-client's event-loop lag gauges are NaN when two scrapes
    // fall within one sampling interval (10 ms, no sample in between); every other value is a number.
    if (!m[1]!.startsWith('nodejs_eventloop_lag_')) expect(Number.isNaN(value), line).toBe(false);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}): Sample | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

let s: TestServer;
beforeAll(async () => {
  s = await startServer({
    config: {
      enable_metrics: true,
      listeners: [{ port: 0, bind_addresses: ['127.0.0.1'] }, { port: 0, bind_addresses: ['127.0.0.1'], type: 'metrics' }],
    },
  });
});
afterAll(async () => {
  expect(s.specViolations()).toEqual([]);
  await s.close();
});

async function scrape(): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(`${s.hs.metricsUrl}/_synapse/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

describe('metrics listener', () => {
  it('serves the exposition format on its own port, not on the client listener', async () => {
    expect(s.hs.metricsUrl).toBeDefined();
    expect(s.hs.metricsUrl).not.toBe(s.baseUrl);
    expect((await fetch(`${s.baseUrl}/_synapse/metrics`)).status).toBe(404);
    expect((await fetch(`${s.hs.metricsUrl}/nope`)).status).toBe(404);
    const { types } = await scrape();
    expect(types.get('axon_http_requests_total')).toBe('counter');
    expect(types.get('axon_http_request_duration_seconds')).toBe('histogram');
    expect(types.get('axon_sync_waiting_long_polls')).toBe('gauge');
    expect(types.get('axon_notifier_wakeups_total')).toBe('counter');
    expect(types.get('axon_events_persisted_total')).toBe('counter');
    expect(types.get('axon_database_query_duration_seconds')).toBe('histogram');
    // Node process metrics.
    expect(types.get('process_cpu_seconds_total')).toBe('counter');
    expect(types.get('process_resident_memory_bytes')).toBe('gauge');
    expect(types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('counts and times requests per route template, and counts persisted events and database time', async () => {
    const before = (await scrape()).samples;
    const eventsBefore = find(before, 'axon_events_persisted_total')?.value ?? 0;
    const alice = await register(s.baseUrl);
    const room = await request<{ room_id: string }>(s.baseUrl, 'POST', `${V1}/createRoom`, { token: alice.accessToken, body: {} });
    for (const txn of ['a', 'b', 'c']) {
      const sent = await request(s.baseUrl, 'PUT', `${V1}/rooms/${encodeURIComponent(room.body.room_id)}/send/m.room.message/${txn}`, {
        token: alice.accessToken, body: { msgtype: 'm.text', body: txn },
      });
      expect(sent.status).toBe(200);
    }
    // A retried transaction stores nothing new.
    await request(s.baseUrl, 'PUT', `${V1}/rooms/${encodeURIComponent(room.body.room_id)}/send/m.room.message/a`, {
      token: alice.accessToken, body: { msgtype: 'm.text', body: 'a' },
    });
    await request(s.baseUrl, 'GET', '/no/such/path');
    await fetch(`${s.baseUrl}/health`);

    const { samples } = await scrape();
    const route = '/_matrix/client/api/v1/rooms/{roomId}/send/{eventType}/{txnId}';
    expect(find(samples, 'axon_http_requests_total', { method: 'PUT', route, code: '200' })?.value).toBe(4);
    expect(find(samples, 'axon_http_request_duration_seconds_count', { method: 'PUT', route })?.value).toBe(4);
    expect(find(samples, 'axon_http_request_duration_seconds_bucket', { method: 'PUT', route, le: '+Inf' })?.value).toBe(4);
    const unmatched = (x: Sample[]) => find(x, 'axon_http_requests_total', { method: 'GET', route: 'unmatched', code: '404' })?.value ?? 0;
    expect(unmatched(samples) - unmatched(before)).toBe(1);
    expect(find(samples, 'axon_http_requests_total', { method: 'GET', route: '/health', code: '200' })?.value).toBeGreaterThanOrEqual(1);
    // No raw URL (room id, txn id) ever becomes a label.
    expect(samples.some((x) => Object.values(x.labels).some((v) => v.includes('!') || v.includes('/send/m.room.message')))).toBe(false);
    // createRoom's events (create, member, power levels, ...) and the three messages.
    const persisted = find(samples, 'axon_events_persisted_total')!.value - eventsBefore;
    expect(persisted).toBeGreaterThanOrEqual(4 + 3);
    const stored = await s.hs.context.storage.events.currentStreamOrdering();
    expect(find(samples, 'axon_events_persisted_total')!.value).toBe(stored);
    expect(find(samples, 'axon_database_query_duration_seconds_count', { operation: 'events.appendEvents' })?.value).toBeGreaterThanOrEqual(4);
    // SQLite remembers a checked token and asks only whether one was revoked since;
    // PostgreSQL looks it up on every request
    const remembers = typeof s.hs.context.storage.tokenGeneration === 'function';
    expect(find(samples, 'axon_database_query_duration_seconds_count', { operation: 'getAccessToken' })?.value).toBeGreaterThanOrEqual(remembers ? 1 : 4);
    if (remembers) expect(find(samples, 'axon_database_query_duration_seconds_count', { operation: 'tokenGeneration' })?.value).toBeGreaterThanOrEqual(4);
  });

  it('reads waiting long-polls and wake-ups from the notifier at scrape time', async () => {
    const notifier = new Notifier(ZERO_TOKEN, { roomsForUser: () => [] });
    (s.hs.context as { notifier?: unknown }).notifier = notifier;
    const controller = new AbortController();
    const waits = ['@a:localhost', '@b:localhost'].map((u) => notifier.waitForEvents(u, notifier.currentToken, 60_000, controller.signal, async () => 'x'));
    await new Promise((r) => setTimeout(r, 10));
    let { samples } = await scrape();
    expect(find(samples, 'axon_sync_waiting_long_polls')?.value).toBe(2);
    expect(find(samples, 'axon_notifier_user_streams')?.value).toBe(2);
    const wakeupsBefore = find(samples, 'axon_notifier_wakeups_total')!.value;
    notifier.onNewEvent('room', 1, { users: ['@a:localhost'] });
    await waits[0];
    ({ samples } = await scrape());
    expect(find(samples, 'axon_sync_waiting_long_polls')?.value).toBe(1);
    expect(find(samples, 'axon_notifier_wakeups_total')!.value - wakeupsBefore).toBe(1);
    controller.abort();
    await waits[1];
  });
});

describe('metrics config', () => {
  it('is off by default, and a metrics listener needs enable_metrics', async () => {
    const base = { server_name: 'x', database: { name: 'sqlite3', args: { database: 'x.db' } } };
    expect(checkConfig({ ...base, listeners: [{ port: 1 }] }, '/tmp').enable_metrics).toBe(false);
    expect(() => checkConfig({ ...base, listeners: [{ port: 1 }, { port: 2, type: 'metrics' }] }, '/tmp')).toThrow(/listeners\[1\].*enable_metrics/);
    expect(() => checkConfig({ ...base, enable_metrics: true, listeners: [{ port: 2, type: 'metrics' }] }, '/tmp')).toThrow(/type http/);
    const plain = await startServer();
    try {
      expect(plain.hs.metricsUrl).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
