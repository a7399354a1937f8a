import { describe, expect, it } from 'vitest';
import type { PresenceRecord, StreamStore } from '../../../storage/streams.js';
import { PresenceStream, type SharedPresence } from './presence.js';

interface MemoryStore {
  store: StreamStore;
  writes: Omit<PresenceRecord, 'streamId'>[];
  rows: Map<string, PresenceRecord>;
  /** How long a write's answer takes, from the commit (ms). */
  replyMs: number;
}

/**
 * Presence rows in memory, answering `delayMs` later as a database over a network does (a
 * write commits at once; its answer takes replyMs, which tests may change).
 */
function slowStore(delayMs = 3): MemoryStore {
  const rows = new Map<string, PresenceRecord>();
  const writes: Omit<PresenceRecord, 'streamId'>[] = [];
  let pos = 0;
  const later = <T>(v: () => T, ms = delayMs): Promise<T> => (ms === 0 ? Promise.resolve(v()) : new Promise((r) => setTimeout(() => r(v()), ms)));
  const memory: MemoryStore = { store: undefined as unknown as StreamStore, writes, rows, replyMs: delayMs };
  memory.store = {
    presenceOf: (ids: readonly string[]) => later(() => ids.flatMap((id) => (rows.has(id) ? [rows.get(id)!] : []))),
    putPresence: (p: Omit<PresenceRecord, 'streamId'>) => {
      writes.push(p);
      const at = ++pos;
      rows.set(p.userId, { ...p, streamId: at });
      return later(() => at, memory.replyMs);
    },
    presenceNotOffline: () => later(() => [...rows.values()].filter((r) => r.presence !== 'offline')),
  } as Partial<StreamStore> as StreamStore;
  return memory;
}

describe('PresenceStream.syncStarted', () => {
  it('polls of an offline user starting together make one change to online, not one each', async () => {
    const { store, writes } = slowStore();
    const notified: string[] = [];
    const presence = new PresenceStream({ store, notify: (_pos, userId) => notified.push(userId) }, 0);
    const releases = await Promise.all(Array.from({ length: 20 }, () => presence.syncStarted('@ann:x')));
    expect(writes.map((w) => [w.userId, w.presence])).toEqual([['@ann:x', 'online']]);
    expect(notified).toEqual(['@ann:x']);
    expect(presence.position).toBe(1);
    // every poll counts as syncing: the user stays online until the last one ends
    for (const release of releases) release();
    // already online: answered at once, no write
    const release = presence.syncStartedNow('@ann:x');
    expect(release).toBeTypeOf('function');
    release!();
    expect(writes).toHaveLength(1);
  });
});

const TIMINGS = { offlineAfterMs: 30_000, idleAfterMs: 300_000 };

/** Processes on one store, each told of the others' shared presence at once, as the replication does a moment later. */
function processes(n: number, clock: { t: number }, memory = slowStore()): MemoryStore & { streams: PresenceStream[] } {
  const streams = Array.from({ length: n }, () => new PresenceStream({ store: memory.store, notify: () => {}, now: () => clock.t, timings: TIMINGS }, 0));
  streams.forEach((s, i) => {
    s.share = (shared) => streams.forEach((other, j) => { if (j !== i) other.applyShared(shared); });
  });
  return { ...memory, streams };
}

const entries = (s: PresenceStream): Map<string, { hold: string }> => (s as unknown as { live: Map<string, { hold: string }> }).live;
const hasEntry = (s: PresenceStream, userId: string): boolean => entries(s).has(userId);
/** Whether the process holds the user ('mine'), another does ('foreign'), or nobody it knows of ('unknown'). */
const holdOf = (s: PresenceStream, userId: string): string | undefined => entries(s).get(userId)?.hold;

/** A poll's start, as SyncService makes it: at once when it can, else through syncStarted. */
async function pollStarts(s: PresenceStream, userId: string): Promise<() => void> {
  return s.syncStartedNow(userId) ?? await s.syncStarted(userId);
}

describe('PresenceStream with several processes', () => {
  it('a user whose polls moved to another process is not marked offline by the one they left', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [a, b], writes } = processes(2, clock);
    (await a!.syncStarted('@ann:x'))();
    // from now on the user polls through b only, one poll after another
    clock.t += 1_000;
    let release = await pollStarts(b!, '@ann:x');
    for (let i = 0; i < 6; i++) {
      clock.t += 10_000;
      release();
      release = await pollStarts(b!, '@ann:x');
      expect(await a!.sweep()).toBe(0);
      expect(await b!.sweep()).toBe(0);
    }
    expect(writes.map((w) => w.presence)).toEqual(['online']);
    // once the polls stop, the process that held them marks the user offline, once
    release();
    clock.t += 31_000;
    expect(await a!.sweep()).toBe(0);
    expect(await b!.sweep()).toBe(1);
    expect(writes.map((w) => w.presence)).toEqual(['online', 'offline']);
    // and the record others kept is gone: the next poll anywhere marks them online again
    expect(a!.syncStartedNow('@ann:x')).toBeUndefined();
  });

  it('one poll held open on another process keeps the user online: that process claims them from its sweep', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [a, b], writes } = processes(2, clock);
    (await a!.syncStarted('@ann:x'))();
    clock.t += 100;
    const release = await pollStarts(b!, '@ann:x');
    // the sweeps as often as the timers make them (an eighth of offlineAfterMs), for a minute
    for (let i = 0; i < 16; i++) {
      clock.t += 3_750;
      expect((await a!.sweep()) + (await b!.sweep())).toBe(0);
    }
    expect(writes.map((w) => w.presence)).toEqual(['online']);
    release();
    for (let i = 0; i < 10; i++) {
      clock.t += 3_750;
      await a!.sweep();
      await b!.sweep();
    }
    expect(writes.map((w) => w.presence)).toEqual(['online', 'offline']);
  });

  it('a user polling on two processes at once makes a claim now and then, not one per poll', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [a, b] } = processes(2, clock);
    (await a!.syncStarted('@ann:x'))();
    let claims = 0;
    for (const s of [a!, b!]) {
      const share = s.share!;
      s.share = (shared) => { if (shared.hold) claims++; share(shared); };
    }
    // 200 polls, alternating, 100 ms apart: 20 s
    for (let i = 0; i < 200; i++) {
      clock.t += 100;
      (await pollStarts(i % 2 === 0 ? a! : b!, '@ann:x'))();
    }
    // one per quarter of offlineAfterMs at most
    expect(claims).toBeGreaterThan(0);
    expect(claims).toBeLessThanOrEqual(3);
  });

  it('answers with the presence another process wrote since', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [a, b] } = processes(2, clock);
    const release = await a!.syncStarted('@ann:x');
    await b!.set('@ann:x', 'unavailable', 'in a meeting');
    expect(await a!.get('@ann:x')).toMatchObject({ presence: 'unavailable', statusMsg: 'in a meeting' });
    expect(await a!.snapshot(['@ann:x'])).toMatchObject([{ presence: 'unavailable', statusMsg: 'in a meeting' }]);
    // a wrote nothing and still holds the user (b knew a held them): a's timers run
    release();
    clock.t += 31_000;
    expect(await b!.sweep()).toBe(0);
    expect(await a!.sweep()).toBe(1);
    expect(await b!.get('@ann:x')).toMatchObject({ presence: 'offline', statusMsg: 'in a meeting' });
  });

  it('two processes claiming one user at once agree on one holder', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [a, b, c], writes } = processes(3, clock);
    (await c!.syncStarted('@ann:x'))();
    // c's hold old enough for a poll elsewhere to claim the user
    clock.t += 7_500;
    // a and b each take a poll of the user in the same millisecond, before hearing the other
    const told = new Map<PresenceStream, SharedPresence[]>([[a!, []], [b!, []]]);
    for (const s of [a!, b!]) s.share = (shared) => told.get(s)!.push(shared);
    for (const release of await Promise.all([a!.syncStarted('@ann:x'), b!.syncStarted('@ann:x')])) release();
    const [fromA, fromB] = [told.get(a!)!, told.get(b!)!];
    expect(fromA.map((x) => x.hold?.[0])).toEqual([clock.t]);
    expect(fromB.map((x) => x.hold?.[0])).toEqual([clock.t]);
    for (const x of fromA) { b!.applyShared(x); c!.applyShared(x); }
    for (const x of fromB) { a!.applyShared(x); c!.applyShared(x); }
    clock.t += 31_000;
    expect((await a!.sweep()) + (await b!.sweep()) + (await c!.sweep())).toBe(1);
    expect(writes.map((w) => w.presence)).toEqual(['online', 'offline']);
  });

  it('a claim is later than the hold it takes over, and a hold ages by the clock of who heard it, whatever the holder\'s says', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [b] } = processes(1, clock);
    const told: SharedPresence[] = [];
    b!.share = (shared) => told.push(shared);
    // a holder whose clock is a minute ahead
    b!.applyShared({ record: { userId: '@ann:x', presence: 'online', statusMsg: null, lastActiveTs: clock.t, streamId: 1 }, hold: [clock.t + 60_000, 0.5] });
    (await pollStarts(b!, '@ann:x'))();
    expect(told).toEqual([]);
    clock.t += 7_500;
    (await pollStarts(b!, '@ann:x'))();
    expect(told.map((x) => x.hold?.[0])).toEqual([1_060_001]);
  });

  it('a process that has heard nothing of a user left online by an earlier run sweeps them', async () => {
    const clock = { t: 1_000_000 };
    const first = processes(1, clock);
    (await first.streams[0]!.syncStarted('@ann:x'))();
    // a new process on the same store, and nobody polls again
    const later = new PresenceStream({ store: first.store, notify: () => {}, now: () => clock.t }, 1);
    await later.start();
    later.stop();
    clock.t += 31_000;
    expect(await later.sweep()).toBe(1);
    expect(first.writes.map((w) => w.presence)).toEqual(['online', 'offline']);
  });
  it('a claim that crosses the holder\'s offline write brings back no stale record, and the poller writes the user online again', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [a, b], writes, rows } = processes(2, clock);
    (await a!.syncStarted('@ann:x'))();
    clock.t += 30_000;
    // b's messages are on their way while a's sweep writes the user offline and her poll starts on b
    const fromB: SharedPresence[] = [];
    const shareB = b!.share!;
    b!.share = (x) => fromB.push(x);
    const sweeping = a!.sweep();
    const releaseB = await pollStarts(b!, '@ann:x');
    expect(await sweeping).toBe(1);
    b!.share = shareB;
    for (const x of fromB) a!.applyShared(x);
    // b's claim came with the record from before the offline: a keeps nothing of it
    expect(hasEntry(a!, '@ann:x')).toBe(false);
    // b, with her poll open, heard the offline and wrote her online again, held there
    await new Promise((r) => setTimeout(r, 20));
    expect(writes.map((w) => w.presence)).toEqual(['online', 'offline', 'online']);
    expect(await a!.get('@ann:x')).toMatchObject({ presence: 'online', streamId: rows.get('@ann:x')!.streamId });
    releaseB();
    // her next polls are on a: nothing more is written while she polls
    clock.t += 1_000;
    const releaseA = await pollStarts(a!, '@ann:x');
    for (let i = 0; i < 10; i++) {
      clock.t += 3_750;
      await a!.sweep();
      await b!.sweep();
    }
    expect(writes.map((w) => w.presence)).toEqual(['online', 'offline', 'online']);
    releaseA();
  });

  it('a write does not replace a newer record heard while its answer was on its way', async () => {
    const clock = { t: 1_000_000 };
    const memory = slowStore(0);
    const { streams: [a, b], rows } = processes(2, clock, memory);
    const polling = await a!.syncStarted('@ann:x');
    clock.t += 300_000;
    // a's sweep turns her unavailable, and its answer is slow; b's PUT lands meanwhile
    memory.replyMs = 30;
    const sweeping = a!.sweep();
    memory.replyMs = 0;
    await b!.set('@ann:x', 'online', 'back');
    await sweeping;
    expect(rows.get('@ann:x')).toMatchObject({ streamId: 3, presence: 'online', statusMsg: 'back' });
    expect(await a!.get('@ann:x')).toMatchObject({ streamId: 3, presence: 'online', statusMsg: 'back' });
    polling();
  });

  it('a claim that loses (its maker\'s clock behind) is answered, so only one process holds the user', async () => {
    const clock = { t: 1_000_000 };
    const memory = slowStore();
    const a = new PresenceStream({ store: memory.store, notify: () => {}, now: () => clock.t + 60_000, timings: TIMINGS }, 0);
    const release = await a.syncStarted('@ann:x');
    clock.t += 1_000;
    // b starts with her left online ('unknown'), and takes one short poll: its claim is older than a's hold
    const b = new PresenceStream({ store: memory.store, notify: () => {}, now: () => clock.t, timings: TIMINGS }, 1);
    await b.start();
    b.stop();
    a.share = (x) => b.applyShared(x);
    b.share = (x) => a.applyShared(x);
    (await pollStarts(b, '@ann:x'))();
    for (let i = 0; i < 30; i++) {
      clock.t += 3_750;
      await a.sweep();
      await b.sweep();
    }
    // she polls on a all along
    expect(memory.writes.map((w) => w.presence)).toEqual(['online']);
    release();
  });

  it('a new holder\'s offline timer starts from the latest poll any process saw, not its own older one', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [a, b], writes } = processes(2, clock);
    (await a!.syncStarted('@ann:x'))();
    clock.t += 1_000;
    // one short poll on b (a's hold is young: no claim), then polls on a until t + 7.4 s
    (await pollStarts(b!, '@ann:x'))();
    clock.t += 1_000;
    const onA = await pollStarts(a!, '@ann:x');
    clock.t += 5_400;
    onA();
    const lastPoll = clock.t;
    // b's sweep claims her (its poll came after a's hold), and a tells it of its later poll
    clock.t += 100;
    await b!.sweep();
    while (clock.t < lastPoll + 30_000 - 250) {
      clock.t += 250;
      await a!.sweep();
      await b!.sweep();
    }
    expect(writes.map((w) => w.presence)).toEqual(['online']);
    clock.t += 4_000;
    await a!.sweep();
    await b!.sweep();
    expect(writes.map((w) => w.presence)).toEqual(['online', 'offline']);
  });

  it('at random: never offline while a poll is open anywhere or sooner than offline_after after the last, once, and always in the end', async () => {
    // a fixed seed: the same runs every time
    let seed = 1;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    let early = 0;
    let offline = 0;
    for (let run = 0; run < 100; run++) {
      const clock = { t: 1_000_000 };
      const { streams, writes } = processes(3, clock, slowStore(0));
      // each process sweeps every 3.75 s (an eighth of offline_after), out of step with the others
      const phase = streams.map(() => Math.floor(random() * 15) * 250);
      const open: ((() => void) | null)[] = streams.map(() => null);
      let lastPoll = 0;
      for (let step = 0; step < 2_000; step++) {
        clock.t += 250;
        for (let i = 0; i < streams.length; i++) {
          if (random() >= (open[i] ? 0.2 : 0.004 * (i + 1))) continue;
          if (open[i]) {
            open[i]!();
            open[i] = null;
          } else {
            open[i] = await pollStarts(streams[i]!, '@u:x');
          }
        }
        if (open.some(Boolean)) lastPoll = clock.t;
        for (let i = 0; i < streams.length; i++) {
          if ((clock.t - 1_000_000 + phase[i]!) % 3_750 !== 0) continue;
          const before = writes.length;
          await streams[i]!.sweep();
          const offlines = writes.slice(before).filter((w) => w.presence === 'offline').length;
          offline += offlines;
          if (offlines > 0 && (open.some(Boolean) || clock.t - lastPoll < 30_000)) early++;
        }
      }
      for (const release of open) release?.();
      for (let i = 0; i < 20; i++) {
        clock.t += 3_750;
        for (const s of streams) await s.sweep();
      }
      const presences = writes.map((w) => w.presence);
      expect(presences.at(-1)).toBe('offline');
      // no two offline writes in a row (two holders)
      expect(presences.some((p, i) => p === 'offline' && presences[i - 1] === 'offline')).toBe(false);
    }
    expect(offline).toBeGreaterThan(100);
    expect(early).toBe(0);
  });
  it('the users a process held when it went are swept by the others offline_after later, unless a poll claims them', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [a, b, c], writes } = processes(3, clock);
    a!.identify(0.25);
    (await a!.syncStarted('@ann:x'))();
    (await a!.syncStarted('@bob:x'))();
    // bob's poll is open on c when a goes: c claims him from its next sweep
    clock.t += 8_000;
    const bobOnC = await pollStarts(c!, '@bob:x');
    clock.t += 100;
    for (const s of [b!, c!]) s.holderGone(0.25);
    // a's last hold, arriving after it was gone, changes nothing
    a!.shareHolds();
    expect([holdOf(b!, '@ann:x'), holdOf(c!, '@ann:x')]).toEqual(['unknown', 'unknown']);
    for (let i = 0; i < 7; i++) {
      clock.t += 3_750;
      expect((await b!.sweep()) + (await c!.sweep())).toBe(0);
    }
    clock.t += 5_000;
    await b!.sweep();
    await c!.sweep();
    // ann, polling nowhere, once; bob not
    expect(writes.map((w) => [w.userId, w.presence])).toEqual([['@ann:x', 'online'], ['@bob:x', 'online'], ['@ann:x', 'offline']]);
    bobOnC();
  });

  it('a process just started hears the holds it asks for: its sweep leaves a user polling elsewhere alone', async () => {
    const clock = { t: 1_000_000 };
    const { streams: [a], writes, store } = processes(1, clock);
    const polling = await a!.syncStarted('@ann:x');
    // c starts: ann is in the store as online, held by nobody c knows of
    const c = new PresenceStream({ store, notify: () => {}, now: () => clock.t, timings: TIMINGS }, 1);
    await c.start();
    c.stop();
    a!.share = (x) => c.applyShared(x);
    c.share = (x) => a!.applyShared(x);
    a!.shareHolds();
    for (let i = 0; i < 12; i++) {
      clock.t += 3_750;
      expect((await a!.sweep()) + (await c.sweep())).toBe(0);
    }
    expect(writes.map((w) => w.presence)).toEqual(['online']);
    polling();
  });
});
