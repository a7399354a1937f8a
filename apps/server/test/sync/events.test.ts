import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, type Account, type TestServer } from '../helpers/index.js';
import { createRoom, enc, events, follow, initialSync, membership, send } from './util.js';

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { await srv.close(); });

const roomEvents = (chunk: Array<Record<string, unknown>>) => chunk.filter((e) => typeof e.event_id === 'string');

async function settle(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 5));
}

describe('GET /events parameters', () => {
  let alice: Account;
  beforeAll(async () => { alice = await register(srv.baseUrl); });

  it('absent from or END means now; timeout=0 answers at once with start == end', async () => {
    for (const params of [{ timeout: 0 }, { from: 'END', timeout: 0 }] as Array<Record<string, string | number>>) {
      const t0 = Date.now();
      const res = await events(srv.baseUrl, alice, params);
      expect(res.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(500);
      expect(Array.isArray(res.body.chunk)).toBe(true);
    }
  });

  it('malformed from: 400 M_BAD_PAGINATION', async () => {
    for (const from of ['garbage', 's1_x', 'x12', '']) {
      const res = await events(srv.baseUrl, alice, { from, timeout: 0 });
      expect(res.status, from).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_PAGINATION');
    }
  });

  it('non-integer or negative timeout: 400 M_INVALID_PARAM; unknown params ignored', async () => {
    for (const timeout of ['abc', '1.5', '-1']) {
      const res = await events(srv.baseUrl, alice, { timeout });
      expect(res.status, timeout).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
    const ok = await events(srv.baseUrl, alice, { timeout: 0, whatever: 'x', limit: 3 });
    expect(ok.status).toBe(200);
  });

  it('t tokens and short tokens are accepted as from', async () => {
    expect((await events(srv.baseUrl, alice, { from: 't1-1', timeout: 0 })).status).toBe(200);
    expect((await events(srv.baseUrl, alice, { from: 's1', timeout: 0 })).status).toBe(200);
  });

  it('a token from the future is clamped to now: end is not ahead of the server', async () => {
    const now = await events(srv.baseUrl, alice, { timeout: 0 });
    const res = await events(srv.baseUrl, alice, { from: 's999999_999_999_999_999', timeout: 0 });
    expect(res.status).toBe(200);
    expect(res.body.chunk).toEqual([]);
    const roomPart = (t: string) => Number(/^s(\d+)/.exec(t)![1]);
    expect(roomPart(res.body.end)).toBeLessThanOrEqual(roomPart(now.body.end) + 5);
    expect(res.body.start).toBe(res.body.end);
  });
});

describe('GET /events invariants', () => {
  it('returns at once when something is pending; catch-up by following end yields each event once, in order', async () => {
    const alice = await register(srv.baseUrl);
    const bob = await register(srv.baseUrl);
    const roomId = await createRoom(srv.baseUrl, alice, { preset: 'public_chat' });
    expect(await membership(srv.baseUrl, bob, roomId, 'join')).toBe(200);
    const start = (await initialSync(srv.baseUrl, bob)).body.end as string;
    srv.hs.context.sync.configure({ maxEventsPerPoll: 7 });
    const sent: string[] = [];
    try {
      for (let i = 0; i < 30; i++) sent.push(await send(srv.baseUrl, alice, roomId, `m${i}`));
      await settle();
      const t0 = Date.now();
      const first = await events(srv.baseUrl, bob, { from: start, timeout: 20000 });
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(first.body.chunk.length).toBeLessThanOrEqual(7);
      expect(first.body.chunk.length).toBeGreaterThan(0);
      expect(first.body.end).not.toBe(first.body.start);
      const got = [...roomEvents(first.body.chunk).map((e) => e.event_id)];
      let end = first.body.end;
      for (let i = 0; i < 20 && got.length < sent.length; i++) {
        const res = await events(srv.baseUrl, bob, { from: end, timeout: 0 });
        expect(res.body.chunk.length).toBeLessThanOrEqual(7);
        if (res.body.chunk.length > 0) expect(res.body.end).not.toBe(res.body.start);
        got.push(...roomEvents(res.body.chunk).map((e) => e.event_id));
        end = res.body.end;
      }
      expect(got).toEqual(sent);
    } finally {
      srv.hs.context.sync.configure({ maxEventsPerPoll: 100 });
    }
    expect(srv.specViolations()).toEqual([]);
  });

  it('wakes a waiting poll on a send; the sender does not wait for the fan-out', async () => {
    const alice = await register(srv.baseUrl);
    const bob = await register(srv.baseUrl);
    const roomId = await createRoom(srv.baseUrl, alice, { preset: 'public_chat' });
    await membership(srv.baseUrl, bob, roomId, 'join');
    const { end } = await follow(srv.baseUrl, bob, (await initialSync(srv.baseUrl, bob)).body.end as string, () => false, 300);
    const poll = events(srv.baseUrl, bob, { from: end, timeout: 10000 });
    await new Promise((r) => setTimeout(r, 50));
    const id = await send(srv.baseUrl, alice, roomId, 'wake up');
    const res = await poll;
    expect(roomEvents(res.body.chunk).map((e) => e.event_id)).toContain(id);
  });

  it('outsiders are not woken and see nothing; invites and own membership changes arrive', async () => {
    const alice = await register(srv.baseUrl);
    const carol = await register(srv.baseUrl);
    const roomId = await createRoom(srv.baseUrl, alice, { preset: 'private_chat' });
    const { end } = await follow(srv.baseUrl, carol, (await initialSync(srv.baseUrl, carol)).body.end as string, () => false, 300);
    await send(srv.baseUrl, alice, roomId, 'secret');
    await settle();
    const quiet = await events(srv.baseUrl, carol, { from: end, timeout: 0 });
    expect(roomEvents(quiet.body.chunk)).toEqual([]);
    await membership(srv.baseUrl, alice, roomId, 'invite', carol.userId);
    const inv = await follow(srv.baseUrl, carol, quiet.body.end, (all) => roomEvents(all).length > 0);
    const evs = roomEvents(inv.all);
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ type: 'm.room.member', state_key: carol.userId, content: { membership: 'invite' } });
    await membership(srv.baseUrl, carol, roomId, 'join');
    await send(srv.baseUrl, alice, roomId, 'welcome');
    await membership(srv.baseUrl, alice, roomId, 'kick', carol.userId);
    await send(srv.baseUrl, alice, roomId, 'after kick');
    const rest = await follow(srv.baseUrl, carol, inv.end, (all) => roomEvents(all).some((e) => (e.content as { membership?: string }).membership === 'leave'));
    await settle();
    const more = await events(srv.baseUrl, carol, { from: rest.end, timeout: 0 });
    const bodies = roomEvents([...rest.all, ...more.body.chunk]).map((e) => { const c = e.content as { body?: string; membership?: string }; return c.body ?? c.membership; });
    expect(bodies).toEqual(['join', 'welcome', 'leave']);
    expect(srv.specViolations()).toEqual([]);
  });

  it('typing, receipts, account data and presence arrive in Synapse order', async () => {
    const alice = await register(srv.baseUrl);
    const bob = await register(srv.baseUrl);
    const roomId = await createRoom(srv.baseUrl, alice, { preset: 'public_chat' });
    await membership(srv.baseUrl, bob, roomId, 'join');
    const msg = await send(srv.baseUrl, alice, roomId, 'read me');
    const { end } = await follow(srv.baseUrl, bob, (await initialSync(srv.baseUrl, bob)).body.end as string, () => false, 300);
    const { streams } = srv.hs.context;
    streams.typing.setTyping(roomId, alice.userId, true, 10_000);
    await streams.receipts.addReceipt(roomId, alice.userId, msg);
    await streams.accountData.put(bob.userId, null, 'org.example.global', { a: 1 });
    await streams.accountData.setTag(bob.userId, roomId, 'u.work', { order: 0.5 });
    await streams.accountData.put(bob.userId, roomId, 'org.example.room', { b: 2 });
    await streams.presence.set(alice.userId, 'unavailable', 'away');
    await settle();
    const res = await events(srv.baseUrl, bob, { from: end, timeout: 0 });
    expect(res.body.chunk.map((e) => e.type)).toEqual(['m.presence', 'm.typing', 'm.receipt', 'm.tag', 'org.example.global', 'org.example.room']);
    expect(res.body.chunk[1]).toEqual({ type: 'm.typing', room_id: roomId, content: { user_ids: [alice.userId] } });
    expect(res.body.chunk[2]).toMatchObject({ type: 'm.receipt', room_id: roomId, content: { [msg]: { 'm.read': { [alice.userId]: {} } } } });
    expect(res.body.chunk[3]).toEqual({ type: 'm.tag', room_id: roomId, content: { tags: { 'u.work': { order: 0.5 } } } });
    expect(res.body.chunk[4]).toEqual({ type: 'org.example.global', content: { a: 1 } });
    streams.typing.setTyping(roomId, alice.userId, false);
    await settle();
    const stop = await events(srv.baseUrl, bob, { from: res.body.end, timeout: 0 });
    expect(stop.body.chunk).toEqual([{ type: 'm.typing', room_id: roomId, content: { user_ids: [] } }]);
    expect(srv.specViolations()).toEqual([]);
  });
});

describe('waiters and shutdown', () => {
  it('1,000 aborted polls leave no waiters, timers or listeners', async () => {
    // one user holds all 1,000 here, far past the per-user cap that protects real servers
    srv.hs.context.sync.configure({ maxWaitingPollsPerUser: 2000 });
    const alice = await register(srv.baseUrl);
    // the first poll marks alice online; once that has been delivered, polls park
    await follow(srv.baseUrl, alice, (await events(srv.baseUrl, alice, { timeout: 0 })).body.end, (all) => all.length > 0, 2000);
    await settle();
    const controllers: AbortController[] = [];
    const polls: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      const ac = new AbortController();
      controllers.push(ac);
      polls.push(fetch(`${srv.baseUrl}${V1}/events?timeout=30000&access_token=${enc(alice.accessToken)}`, { signal: ac.signal }).then((r) => r.text()).catch(() => null));
    }
    const notifier = srv.hs.context.notifier;
    for (let i = 0; i < 1000 && notifier.stats().waiters < 1000; i++) await new Promise((r) => setTimeout(r, 20));
    expect(notifier.stats().waiters).toBe(1000);
    for (const ac of controllers) ac.abort();
    await Promise.all(polls);
    for (let i = 0; i < 100 && notifier.stats().activeWaits > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(notifier.stats()).toMatchObject({ waiters: 0, activeWaits: 0, timers: 0, abortListeners: 0 });
    expect(getEventListeners(srv.hs.context.stopping, 'abort')).toHaveLength(0);
  }, 120_000);
});

describe('shutdown', () => {
  it('waiting polls answer at once with an empty chunk on SIGTERM', async () => {
    const own = await startServer();
    const alice = await register(own.baseUrl);
    const { end } = await follow(own.baseUrl, alice, (await initialSync(own.baseUrl, alice)).body.end as string, () => false, 300);
    const poll = request<{ chunk: unknown[]; end: string }>(own.baseUrl, 'GET', `${V1}/events?from=${enc(end)}&timeout=30000`, { token: alice.accessToken });
    for (let i = 0; i < 100 && own.hs.context.notifier.stats().waiters < 1; i++) await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    const closing = own.close();
    const res = await poll;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(res.status).toBe(200);
    expect(res.body.chunk).toEqual([]);
    await closing;
  });
});
