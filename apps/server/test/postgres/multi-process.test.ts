/**
 * Three `axon start` processes on one PostgreSQL database act as one homeserver
 * (issue 10): cross-process wake-ups, one order for everyone under concurrent sends,
 * txnId retries answered by another process, tokens moved between processes, and the
 * others serving on after one is killed. Twice: each process storing what it receives, and
 * the first as the event persister the others forward room messages to. Runs in the
 * PostgreSQL project only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, metricSample, register, REPLICATION_SECRET, request, V1, writePersisterConfigs, writePostgresConfig, type Account, type RunningAxon } from '../helpers/index.js';
import { startDeployment, type Deployment } from '../helpers/deployment.js';
import { until } from '../helpers/until.js';
import { createRoom, enc, events, follow, initialSync, membership } from '../sync/util.js';

async function put(base: string, who: Account, roomId: string, txnId: string, body: string): Promise<string> {
  const res = await request<{ event_id: string }>(base, 'PUT', `${V1}/rooms/${enc(roomId)}/send/m.room.message/${txnId}`,
    { token: who.accessToken, body: { msgtype: 'm.text', body } });
  if (res.status !== 200) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.event_id;
}

async function now(base: string, who: Account): Promise<string> {
  const res = await events(base, who, { timeout: 0 });
  expect(res.status).toBe(200);
  return res.body.end;
}

const bodies = (chunk: Array<Record<string, unknown>>): string[] =>
  chunk.filter((e) => e['type'] === 'm.room.message').map((e) => (e['content'] as { body: string }).body);

describe.each([
  { deployment: 'each process storing what it receives', persister: false, streams: false },
  { deployment: 'each storing what it receives, notices streamed from replication listeners', persister: false, streams: true },
  { deployment: 'the first the event persister of the others', persister: true, streams: false },
])('three processes, one database: $deployment', ({ persister, streams }) => {
  let deployment: Deployment | undefined;
  const procs = (): RunningAxon[] => deployment!.procs;
  const url = (i: number): string => procs()[i]!.url;
  /** Each process's metrics listener (with the persister, the persister's first). */
  let metricsUrls: string[] = [];

  beforeAll(async () => {
    deployment = await startDeployment('multi', async (dir, dbUrl) => {
      if (persister) {
        const written = await writePersisterConfigs(dir, dbUrl, 5, 2);
        metricsUrls = written.metricsUrls;
        return [written.persister, ...written.forwarders];
      }
      const configs: string[] = [];
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        configs.push(writePostgresConfig(dir, dbUrl, 5, {
          name: `homeserver-${i}.yaml`,
          listeners: [{ port, bind_addresses: ['127.0.0.1'], type: 'metrics' }, ...(streams ? [{ port: 0, bind_addresses: ['127.0.0.1'], type: 'replication' }] : [])],
          extra: { enable_metrics: true, ...(streams ? { worker_replication_secret: REPLICATION_SECRET } : {}) },
        }));
        metricsUrls.push(`http://127.0.0.1:${port}`);
      }
      return configs;
    });
  }, 60_000);

  afterAll(() => deployment?.stop(), 30_000);

  let alice: Account;
  let bob: Account;
  let roomId: string;

  beforeAll(async () => {
    alice = await register(url(0));
    bob = await register(url(1));
    roomId = await createRoom(url(2), alice, { preset: 'public_chat' });
    expect(await membership(url(0), bob, roomId, 'join')).toBe(200);
  }, 30_000);

  it('a long-poll on one process is woken by a send through another, within a NOTIFY round trip', async () => {
    let from = await now(url(2), bob);
    // let presence from the polls settle, so the next poll parks until the message
    from = (await follow(url(2), bob, from, () => false, 300)).end;
    const poll = follow(url(2), bob, from, (all) => all.some((e) => e['type'] === 'm.room.message'), 10_000);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const sentId = await put(url(0), alice, roomId, 'wake1', 'wake up');
    const { all } = await poll;
    expect(all.filter((e) => e['type'] === 'm.room.message').map((e) => e['event_id'])).toEqual([sentId]);
    // well below the 2 s safety poll: the wake-up came through LISTEN/NOTIFY
    expect(Date.now() - started).toBeLessThan(1_800);
  });

  it('concurrent sends through all three are neither lost nor duplicated, and every process serves one order', async () => {
    const from = await now(url(0), bob);
    const senders = [alice, bob];
    const sends: Promise<string>[] = [];
    for (let i = 0; i < 30; i++) {
      const who = senders[i % 2]!;
      sends.push(put(url(i % 3), who, roomId, `conc${i}`, `m${i}`));
    }
    const ids = await Promise.all(sends);
    expect(new Set(ids).size).toBe(30);
    const seen: string[][] = [];
    for (let p = 0; p < 3; p++) {
      const { all } = await follow(url(p), bob, from, (a) => bodies(a).length >= 30, 15_000);
      seen.push(all.filter((e) => e['type'] === 'm.room.message').map((e) => e['event_id'] as string));
    }
    for (const s of seen) {
      expect(s).toHaveLength(30);
      expect(new Set(s)).toEqual(new Set(ids));
    }
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  }, 60_000);

  it('a txnId retry that lands on another process returns the same event_id', async () => {
    const first = await put(url(0), alice, roomId, 'retry1', 'once');
    expect(await put(url(1), alice, roomId, 'retry1', 'once')).toBe(first);
    expect(await put(url(2), alice, roomId, 'retry1', 'once')).toBe(first);
    // racing retries through all three at once still make one event
    const before = await now(url(1), bob);
    const raced = await Promise.all([0, 1, 2].map((p) => put(url(p), alice, roomId, 'retry2', 'race')));
    expect(new Set(raced).size).toBe(1);
    // Process 1 may answer the retry (from the database) before its stream has taken in
    // the event another process wrote: wait for the event there, then for anything after.
    const seen = await follow(url(1), bob, before, (all) => all.some((e) => e['event_id'] === raced[0]), 10_000);
    const after = await follow(url(1), bob, seen.end, () => false, 300);
    expect([...seen.all, ...after.all].filter((e) => bodies([e]).includes('race')).map((e) => e['event_id'])).toEqual([raced[0]]);
  });

  it('stream tokens from one process work on the others', async () => {
    const t0 = await now(url(0), bob);
    const a = await put(url(2), alice, roomId, 'tok1', 'first');
    const r1 = await follow(url(1), bob, t0, (all) => bodies(all).includes('first'), 10_000);
    expect(r1.all.map((e) => e['event_id'])).toEqual([a]);
    const b = await put(url(0), alice, roomId, 'tok2', 'second');
    const r2 = await follow(url(2), bob, r1.end, (all) => bodies(all).includes('second'), 10_000);
    expect(r2.all.map((e) => e['event_id'])).toEqual([b]);
    // the access token works everywhere, and /messages agrees on every process
    for (let p = 0; p < 3; p++) {
      const res = await request<{ chunk: Array<{ event_id: string }> }>(url(p), 'GET', `${V1}/rooms/${enc(roomId)}/messages?dir=b&limit=2`, { token: bob.accessToken });
      expect(res.status).toBe(200);
      expect(res.body.chunk.map((e) => e.event_id)).toEqual([b, a]);
    }
  });

  it('a process that left another\'s events unread (nobody polled the room there) serves them from the store', async () => {
    const carol = await register(url(0));
    const dave = await register(url(1));
    const quiet = await createRoom(url(0), carol, { preset: 'public_chat' });
    expect(await membership(url(1), dave, quiet, 'join')).toBe(200);
    const from = await now(url(0), carol);
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) sent.push(await put(url(0), carol, quiet, `quiet${i}`, `quiet ${i}`));
    // dave has never polled process 2, so nobody there serves the room
    const { all, end } = await follow(url(2), dave, from, (a) => bodies(a).length >= 3, 10_000);
    expect(all.filter((e) => e['type'] === 'm.room.message').map((e) => e['event_id'])).toEqual(sent);
    const sync = await initialSync(url(2), dave, { limit: 2 });
    expect(sync.status).toBe(200);
    const room = (sync.body['rooms'] as Array<{ room_id: string; messages: { chunk: Array<{ event_id: string }> } }>).find((r) => r.room_id === quiet)!;
    expect(room.messages.chunk.map((e) => e.event_id)).toEqual(sent.slice(1));
    // now served there: the next send is read and delivered as ever
    const last = await put(url(0), carol, quiet, 'quiet3', 'quiet 3');
    const next = await follow(url(2), dave, end, (a) => bodies(a).length >= 1, 10_000);
    expect(next.all.filter((e) => e['type'] === 'm.room.message').map((e) => e['event_id'])).toEqual([last]);
  });

  it('a logout through one process is refused by the others, which had the token in memory', async () => {
    const carol = await register(url(0));
    const whoami = (p: number): Promise<number> =>
      request(url(p), 'GET', `${V1}/events?timeout=0`, { token: carol.accessToken }).then((r) => r.status);
    for (let p = 0; p < 3; p++) expect(await whoami(p)).toBe(200);
    expect((await request(url(1), 'POST', `${V1}/logout`, { token: carol.accessToken, body: {} })).status).toBe(200);
    expect(await whoami(1)).toBe(401);
    // the others hear of it through migration 7's trigger, a NOTIFY away
    for (const p of [0, 2]) {
      const deadline = Date.now() + 5_000;
      while ((await whoami(p)) !== 401) {
        if (Date.now() > deadline) throw new Error(`process ${p} still accepts the token`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });

  it(persister
    ? 'had the persister store every message sent through the others, none stored where it arrived'
    : 'had each process store the messages it received, forwarding none', async () => {
    if (!persister) {
      // the concurrent sends alone sent 10 through each
      for (const m of metricsUrls) expect(await metricSample(m, 'axon_events_persisted_total')).toBeGreaterThanOrEqual(10);
      return;
    }
    const [forwarded, storedHere] = await Promise.all(['forwarded', 'stored_here'].map(async (outcome) => {
      const counts = await Promise.all(metricsUrls.slice(1).map((m) => metricSample(m, `axon_event_persister_messages_total{outcome="${outcome}"}`)));
      return counts.reduce((a, b) => a + b, 0);
    }));
    // the concurrent sends alone sent 20 through the two forwarders
    expect(forwarded).toBeGreaterThanOrEqual(20);
    expect(storedHere).toBe(0);
  });

  it(streams
    ? 'sent its room events on the notice streams, which the other two read, and none by NOTIFY'
    : persister
      ? 'the persister sent its room events on its notice stream, which the forwarders read, and none by NOTIFY'
      : 'sent its room events by NOTIFY, with no notice streams to read', async () => {
    const sample = (i: number, name: string): Promise<number> => metricSample(metricsUrls[i]!, name);
    const notify = 'axon_replication_notices_total{path="notify"}';
    const stream = 'axon_replication_notices_total{path="stream"}';
    // with the persister, the forwarders (no listener) read the persister's stream
    const readers = streams ? [2, 2, 2] : persister ? [2, 0, 0] : [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      await until(() => sample(i, 'axon_replication_notice_subscribers'), (n) => n === readers[i], `process ${i}'s ${readers[i]} subscribers`);
    }
    const before = await Promise.all([0, 1, 2].map(async (i) => [await sample(i, notify), await sample(i, stream)] as const));
    const from = await now(url(1), bob);
    // one after another: a batch and a notice each
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await put(url(0), alice, roomId, `notice${i}`, `notice ${i}`));
    const { all } = await follow(url(1), bob, from, (a) => ids.every((id) => a.some((e) => e['event_id'] === id)), 10_000);
    expect(all.filter((e) => bodies([e]).some((b) => b.startsWith('notice '))).map((e) => e['event_id'])).toEqual(ids);
    const [notified, streamed] = [await sample(0, notify) - before[0]![0], await sample(0, stream) - before[0]![1]];
    if (streams || persister) {
      // a hello now and then at most
      expect(notified).toBeLessThan(3);
      expect(streamed).toBeGreaterThanOrEqual(8);
    } else {
      expect(notified).toBeGreaterThanOrEqual(8);
      expect(streamed).toBe(0);
    }
  });

  it('the others keep serving when one process is killed', async () => {
    const victim = procs()[2]!;
    const dave = await register(victim.url);
    victim.child.kill('SIGKILL');
    await new Promise<void>((resolve) => { if (victim.child.exitCode !== null || victim.child.signalCode !== null) resolve(); else victim.child.once('exit', () => resolve()); });
    const from = await now(url(1), bob);
    const poll = events(url(1), bob, { from, timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 100));
    const id = await put(url(0), alice, roomId, 'afterkill', 'still here');
    const res = await poll;
    expect(res.body.chunk.map((e) => e['event_id'])).toContain(id);
    // a user registered on the dead process carries on elsewhere with the same token
    expect(await membership(url(1), dave, roomId, 'join')).toBe(200);
    expect(await put(url(0), dave, roomId, 'dave1', 'hi')).toMatch(/^\$/);
    procs().splice(2, 1);
  }, 30_000);
});
