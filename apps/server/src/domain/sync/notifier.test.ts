import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Notifier, WaitCancel, type CheckForUpdates, type WaitOutcome } from './notifier.js';
import { formatStreamToken, parseStreamToken, type StreamToken } from './stream-token.js';

const T = (s: string): StreamToken => parseStreamToken(s);
const str = (t: StreamToken): string => formatStreamToken(t);

/** alice and bob share !a; carol is alone in !c; dave is in nothing. */
const membership: Record<string, string[]> = { '@alice:hs': ['!a'], '@bob:hs': ['!a'], '@carol:hs': ['!c'] };
function makeNotifier(start = 's5_0_0_0_0'): Notifier {
  return new Notifier(T(start), { roomsForUser: (u) => membership[u] ?? [] });
}

/** A check that records its calls and answers from a queue (null when empty). */
function recorder(answers: Array<string | null> = []): CheckForUpdates<string> & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (from: StreamToken, to: StreamToken): Promise<string | null> => {
    calls.push(`${str(from)}..${str(to)}`);
    return answers.length ? (answers.shift() ?? null) : null;
  };
  return Object.assign(fn, { calls });
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Notifier.waitForEvents', () => {
  it('answers at once when something is already pending after from', async () => {
    const n = makeNotifier('s9_0_0_0_0');
    const check = recorder(['events']);
    const out = await n.waitForEvents('@alice:hs', T('s5'), 30_000, new AbortController().signal, check);
    expect(out).toEqual({ status: 'result', result: 'events' });
    expect(check.calls).toEqual(['s5_0_0_0_0..s9_0_0_0_0']);
    expect(n.stats()).toMatchObject({ timers: 0, abortListeners: 0, waiters: 0, activeWaits: 0 });
  });

  it('parks, then wakes on an event in one of the user\'s rooms', async () => {
    const n = makeNotifier();
    const check = recorder(['got it']);
    const p = n.waitForEvents('@alice:hs', T('s5'), 30_000, new AbortController().signal, check);
    await settle();
    expect(n.stats()).toMatchObject({ waiters: 1, timers: 1, abortListeners: 1 });
    expect(check.calls).toEqual([]);
    n.onNewEvent('room', 6, { rooms: ['!a'] });
    expect(await p).toEqual({ status: 'result', result: 'got it' });
    expect(check.calls).toEqual(['s5_0_0_0_0..s6_0_0_0_0']);
    expect(n.stats()).toMatchObject({ waiters: 0, timers: 0, abortListeners: 0 });
  });

  it('is not woken by other rooms, and times out with end = now', async () => {
    const n = makeNotifier();
    const check = recorder();
    const p = n.waitForEvents('@alice:hs', T('s5'), 1000, new AbortController().signal, check);
    await settle();
    n.onNewEvent('room', 6, { rooms: ['!c'] });
    n.onNewEvent('presence', 3, { users: ['@carol:hs'] });
    await settle();
    expect(check.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    const out = await p;
    expect(out.status).toBe('timeout');
    expect(str((out as Extract<WaitOutcome<string>, { status: 'timeout' }>).end)).toBe('s6_3_0_0_0');
    expect(n.stats()).toMatchObject({ waiters: 0, timers: 0, abortListeners: 0, activeWaits: 0 });
  });

  it('waits again after a wake-up with nothing visible', async () => {
    const n = makeNotifier();
    const check = recorder([null, 'second']);
    const p = n.waitForEvents('@alice:hs', T('s5'), 30_000, new AbortController().signal, check);
    await settle();
    n.onNewEvent('room', 6, { rooms: ['!a'] });
    await settle();
    expect(n.stats().waiters).toBe(1);
    n.onNewEvent('room', 7, { rooms: ['!a'] });
    expect(await p).toEqual({ status: 'result', result: 'second' });
    expect(check.calls).toEqual(['s5_0_0_0_0..s6_0_0_0_0', 's6_0_0_0_0..s7_0_0_0_0']);
  });

  it('wakes a user named directly, e.g. the target of an invite', async () => {
    const n = makeNotifier();
    const check = recorder(['invite']);
    const p = n.waitForEvents('@dave:hs', T('s5'), 30_000, new AbortController().signal, check);
    await settle();
    n.onNewEvent('room', 6, { rooms: ['!a'], users: ['@dave:hs'] });
    expect(await p).toEqual({ status: 'result', result: 'invite' });
  });

  it('follows joins and leaves through userJoinedRoom / userLeftRoom', async () => {
    const n = makeNotifier();
    const check = recorder(['after join']);
    const p = n.waitForEvents('@dave:hs', T('s5'), 30_000, new AbortController().signal, check);
    await settle();
    n.onNewEvent('room', 6, { rooms: ['!a'] });
    await settle();
    expect(check.calls).toEqual([]);
    n.userJoinedRoom('@dave:hs', '!a');
    n.onNewEvent('room', 7, { rooms: ['!a'] });
    expect(await p).toEqual({ status: 'result', result: 'after join' });
    expect(check.calls).toEqual(['s5_0_0_0_0..s7_0_0_0_0']);
    n.userLeftRoom('@dave:hs', '!a');
    const check2 = recorder();
    const p2 = n.waitForEvents('@dave:hs', T('s7'), 500, new AbortController().signal, check2);
    await settle();
    n.onNewEvent('room', 8, { rooms: ['!a'] });
    await vi.advanceTimersByTimeAsync(500);
    expect((await p2).status).toBe('timeout');
    expect(check2.calls).toEqual([]);
  });

  it('wakes every concurrent poll of the same user', async () => {
    const n = makeNotifier();
    const c1 = recorder(['one']);
    const c2 = recorder(['two']);
    const p1 = n.waitForEvents('@bob:hs', T('s5'), 30_000, new AbortController().signal, c1);
    const p2 = n.waitForEvents('@bob:hs', T('s5'), 30_000, new AbortController().signal, c2);
    await settle();
    n.onNewEvent('room', 6, { rooms: ['!a'] });
    expect(await Promise.all([p1, p2])).toEqual([{ status: 'result', result: 'one' }, { status: 'result', result: 'two' }]);
  });

  it('timeout 0 answers at once, without a timer', async () => {
    const n = makeNotifier();
    const check = recorder();
    expect(await n.waitForEvents('@alice:hs', T('s5'), 0, new AbortController().signal, check)).toEqual({
      status: 'timeout', end: T('s5'),
    });
    expect(check.calls).toEqual([]);
    expect(n.stats()).toMatchObject({ timers: 0, abortListeners: 0 });
  });

  it('timeout 0 still checks when something is pending', async () => {
    const n = makeNotifier('s8');
    const check = recorder([null]);
    const out = await n.waitForEvents('@alice:hs', T('s5'), 0, new AbortController().signal, check);
    expect(out).toEqual({ status: 'timeout', end: T('s8') });
    expect(check.calls).toEqual(['s5_0_0_0_0..s8_0_0_0_0']);
  });

  it('a from ahead of the user\'s stream parks (the caller clamps future tokens)', async () => {
    const n = makeNotifier();
    const check = recorder();
    const p = n.waitForEvents('@alice:hs', T('s5_3'), 100, new AbortController().signal, check);
    await vi.advanceTimersByTimeAsync(100);
    expect(await p).toEqual({ status: 'timeout', end: T('s5_3') });
    expect(check.calls).toEqual([]);
  });

  it('an abort while parked ends the wait and cleans up', async () => {
    const n = makeNotifier();
    const ac = new AbortController();
    const check = recorder(['never']);
    const p = n.waitForEvents('@alice:hs', T('s5'), 30_000, ac.signal, check);
    await settle();
    ac.abort();
    expect(await p).toEqual({ status: 'aborted' });
    n.onNewEvent('room', 6, { rooms: ['!a'] });
    expect(check.calls).toEqual([]);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(n.stats()).toMatchObject({ waiters: 0, timers: 0, abortListeners: 0, activeWaits: 0 });
  });

  it('a WaitCancel ends a parked wait like an abort, and listens to a signal itself', async () => {
    const n = makeNotifier();
    const cancel = new WaitCancel();
    const check = recorder(['never']);
    const p = n.waitForEvents('@alice:hs', T('s5'), 30_000, cancel, check);
    await settle();
    expect(cancel.listener).not.toBeNull();
    cancel.cancel();
    expect(await p).toEqual({ status: 'aborted' });
    expect(cancel.listener).toBeNull();
    expect(check.calls).toEqual([]);
    expect(n.stats()).toMatchObject({ waiters: 0, timers: 0, abortListeners: 0, activeWaits: 0 });

    const ac = new AbortController();
    const viaSignal = new WaitCancel();
    ac.signal.addEventListener('abort', viaSignal, { once: true });
    const q = n.waitForEvents('@alice:hs', T('s5'), 30_000, viaSignal, check);
    await settle();
    ac.abort();
    expect(await q).toEqual({ status: 'aborted' });
  });

  it('an abort during a check drops its result', async () => {
    const n = makeNotifier('s9');
    const ac = new AbortController();
    const out = await n.waitForEvents('@alice:hs', T('s5'), 30_000, ac.signal, async () => {
      ac.abort();
      return 'late';
    });
    expect(out).toEqual({ status: 'aborted' });
  });

  it('an already aborted signal returns at once', async () => {
    const n = makeNotifier('s9');
    const check = recorder(['x']);
    expect(await n.waitForEvents('@alice:hs', T('s5'), 30_000, AbortSignal.abort(), check)).toEqual({ status: 'aborted' });
    expect(check.calls).toEqual([]);
    expect(n.stats().userStreams).toBe(0);
  });

  it('a failing check rejects and cleans up', async () => {
    const n = makeNotifier();
    const p = n.waitForEvents('@alice:hs', T('s5'), 30_000, new AbortController().signal, async () => {
      throw new Error('db down');
    });
    await settle();
    n.onNewEvent('room', 6, { rooms: ['!a'] });
    await expect(p).rejects.toThrow('db down');
    expect(n.stats()).toMatchObject({ waiters: 0, timers: 0, abortListeners: 0, activeWaits: 0 });
  });

  it('a check that throws at once, or answers without a promise, is taken as an await would take it', async () => {
    const n = makeNotifier('s9_0_0_0_0');
    const throwing = n.waitForEvents('@alice:hs', T('s5'), 30_000, new AbortController().signal, () => {
      throw new Error('bad query');
    });
    await expect(throwing).rejects.toThrow('bad query');
    // nothing new after s5 for a plain value: wait, then time out as usual
    const plain = n.waitForEvents('@alice:hs', T('s5'), 50, new AbortController().signal,
      (() => null) as unknown as CheckForUpdates<string>);
    await settle();
    expect(n.stats()).toMatchObject({ waiters: 1, activeWaits: 1 });
    n.onNewEvent('room', 10, { rooms: ['!a'] });
    await settle();
    expect(n.stats()).toMatchObject({ waiters: 1, activeWaits: 1 });
    await vi.advanceTimersByTimeAsync(60);
    expect(await plain).toEqual({ status: 'timeout', end: T('s10_0_0_0_0') });
    expect(n.stats()).toMatchObject({ waiters: 0, timers: 0, abortListeners: 0, activeWaits: 0 });
  });

  it('a user whose rooms cannot be read rejects the wait rather than throwing', async () => {
    const n = new Notifier(T('s5'), { roomsForUser: () => { throw new Error('no rooms'); } });
    const p = n.waitForEvents('@alice:hs', T('s5'), 30_000, new AbortController().signal, recorder());
    expect(p).toBeInstanceOf(Promise);
    await expect(p).rejects.toThrow('no rooms');
  });

  it('opening and aborting 1,000 polls leaves no waiters, timers or listeners', async () => {
    const n = makeNotifier();
    const users = ['@alice:hs', '@bob:hs', '@carol:hs', '@dave:hs'];
    const controllers = Array.from({ length: 1000 }, () => new AbortController());
    const polls = controllers.map((ac, i) => n.waitForEvents(users[i % 4] ?? '@x:hs', T('s5'), 30_000, ac.signal, recorder()));
    await settle();
    expect(n.stats()).toMatchObject({ waiters: 1000, timers: 1000, abortListeners: 1000, activeWaits: 1000 });
    expect(vi.getTimerCount()).toBe(1000);
    for (const ac of controllers) ac.abort();
    const outcomes = await Promise.all(polls);
    expect(outcomes.every((o) => o.status === 'aborted')).toBe(true);
    expect(n.stats()).toMatchObject({ waiters: 0, timers: 0, abortListeners: 0, activeWaits: 0 });
    expect(vi.getTimerCount()).toBe(0);
    for (const ac of controllers) expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

describe('Notifier bookkeeping', () => {
  it('advances the current token, never backwards', () => {
    const n = makeNotifier();
    n.onNewEvent('room', 7);
    n.onNewEvent('room', 6);
    n.onNewEvent('typing', 2);
    expect(str(n.currentToken)).toBe('s7_0_2_0_0');
  });

  it('expires idle user streams and their room entries', async () => {
    let now = 0;
    const n = new Notifier(T('s1'), { roomsForUser: (u) => membership[u] ?? [], now: () => now, streamExpiryMs: 1000 });
    const busy = n.waitForEvents('@bob:hs', T('s1'), 30_000, new AbortController().signal, recorder(['x']));
    await n.waitForEvents('@alice:hs', T('s1'), 0, new AbortController().signal, recorder());
    await settle();
    expect(n.stats()).toMatchObject({ userStreams: 2, rooms: 1 });
    now = 5000;
    expect(n.removeExpiredStreams()).toBe(1);
    expect(n.stats()).toMatchObject({ userStreams: 1, rooms: 1 });
    n.onNewEvent('room', 2, { rooms: ['!a'] });
    await busy;
    now = 10_000;
    expect(n.removeExpiredStreams()).toBe(1);
    expect(n.stats()).toMatchObject({ userStreams: 0, rooms: 0 });
  });

  // how fast is the bench's business (scenario 3); this checks that one event reaches all
  it('fans one event out to 10,000 parked polls, leaving nothing behind', async () => {
    vi.useRealTimers();
    const n = new Notifier(T('s1'), { roomsForUser: () => ['!big'] });
    const check: CheckForUpdates<number> = async () => 1;
    const polls = Array.from({ length: 10_000 }, (_, i) =>
      n.waitForEvents(`@u${i}:hs`, T('s1'), 30_000, new AbortController().signal, check));
    await settle();
    expect(n.stats().waiters).toBe(10_000);
    n.onNewEvent('room', 2, { rooms: ['!big'] });
    const outs = await Promise.all(polls);
    expect(outs.every((o) => o.status === 'result')).toBe(true);
    expect(n.stats()).toMatchObject({ waiters: 0, timers: 0, abortListeners: 0 });
  });
});
