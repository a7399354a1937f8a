/**
 * Resume without loss: the server is killed with SIGKILL mid-stream (with events committed
 * but not yet fetched, and again with a long-poll in flight), restarted on the same data dir
 * and port, and the iterator carries on with nothing lost or repeated. Then a new iterator
 * started from a saved token does the same across another crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type MatrixClient, type RetryInfo } from '../src/index.js';
import { pendingOn, probeServer, startAxon, type AxonProcess } from './helpers/axon.js';

const features = await probeServer();
const pending = pendingOn(features, 'rooms', 'resume-without-loss test (issues 4 and 5)') || pendingOn(features, 'sync', 'resume-without-loss test (issue 5)');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe.skipIf(pending)('events() across server crashes (real server, SIGKILL)', () => {
  let axon: AxonProcess;
  let alice: MatrixClient;
  let bob: MatrixClient;
  let roomId: string;

  beforeAll(async () => {
    axon = await startAxon();
    const anon = createClient({ baseUrl: axon.url });
    alice = await anon.register({ username: 'alice', password: 'pw' });
    bob = await anon.register({ username: 'bob', password: 'pw' });
    ({ room_id: roomId } = await alice.createRoom({ preset: 'public_chat' }));
    await bob.join(roomId);
  }, 30_000);
  afterAll(async () => { await axon?.stop(); });

  const sendBatch = async (label: string, count: number): Promise<string[]> => {
    const ids: string[] = [];
    // retry: a pooled connection to the killed process may fail once; the same txnId makes it safe
    for (let i = 0; i < count; i++) ids.push((await alice.sendText(roomId, `${label}${i}`, { retry: { initialDelayMs: 50 } })).event_id);
    return ids;
  };

  it('should carry on with nothing lost or repeated when the server is killed and restarted', async () => {
    const { end } = await bob.initialSync({ limit: 0 });
    const retries: RetryInfo[] = [];
    const controller = new AbortController();
    const stream = bob.events({ from: end, timeout: 2000, signal: controller.signal, retry: { initialDelayMs: 100, maxDelayMs: 400, onRetry: (r) => retries.push(r) } });
    const received: string[] = [];
    let openGate: () => void = () => {};
    const gate = new Promise<void>((resolve) => { openGate = resolve; });
    const consumer = (async () => {
      for await (const batch of stream) {
        for (const event of batch.events) if (event.type === 'm.room.message') received.push(event.event_id ?? '?');
        if (received.length === 5) await gate; // pause: B is sent and the server killed meanwhile
      }
    })();

    const sent = await sendBatch('A', 5);
    await until('batch A', () => received.length >= 5);

    // B: committed, answered 200, but not fetched by the stream before the crash.
    sent.push(...(await sendBatch('B', 5)));
    await axon.kill('SIGKILL');
    await axon.restart();
    openGate();
    await until('batch B', () => received.length >= 10);

    // C: the stream has a long-poll in flight when the server dies.
    await sleep(300);
    await axon.kill('SIGKILL');
    await sleep(700); // the stream retries against a closed port meanwhile
    await axon.restart();
    sent.push(...(await sendBatch('C', 5)));
    await until('batch C', () => received.length >= 15);

    controller.abort();
    await consumer; // ends cleanly on abort
    expect(received).toEqual(sent);
    expect(retries.length).toBeGreaterThan(0);

    // A new iterator from the saved token, across one more crash.
    const saved = stream.token;
    expect(saved).toEqual(expect.any(String));
    const later = await sendBatch('D', 3);
    await axon.kill('SIGKILL');
    await axon.restart();
    const resumed: string[] = [];
    const again = new AbortController();
    for await (const batch of bob.events({ from: saved, timeout: 500, signal: again.signal, yieldEmpty: true })) {
      for (const event of batch.events) if (event.type === 'm.room.message') resumed.push(event.event_id ?? '?');
      if (batch.events.length === 0) again.abort(); // caught up: an empty long-poll
    }
    expect(resumed).toEqual(later);
  }, 60_000);
});
