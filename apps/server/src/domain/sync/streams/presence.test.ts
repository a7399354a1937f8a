import { describe, expect, it } from 'vitest';
import type { PresenceRecord, StreamStore } from '../../../storage/streams.js';
import { PresenceStream, type SharedPresence } from './presence.js';

/** Presence rows in memory, answering a few milliseconds later, as a database over a network does. */
function slowStore(): { store: StreamStore; writes: Omit<PresenceRecord, 'streamId'>[] } {
  const rows = new Map<string, PresenceRecord>();
  const writes: Omit<PresenceRecord, 'streamId'>[] = [];
  let pos = 0;
  const later = <T>(v: () => T): Promise<T> => new Promise((r) => setTimeout(() => r(v()), 3));
  const store = {
    presenceOf: (ids: readonly string[]) => later(() => ids.flatMap((id) => (rows.has(id) ? [rows.get(id)!] : []))),
    putPresence: (p: Omit<PresenceRecord, 'streamId'>) => later(() => {
      writes.push(p);
      rows.set(p.userId, { ...p, streamId: ++pos });
      return pos;
    }),
    presenceNotOffline: () => later(() => [...rows.values()].filter((r) => r.presence !== 'offline')),
  } as Partial<StreamStore> as StreamStore;
  return { store, writes };
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

/** Processes on one store, each told of the others' shared presence, as the replication does. */
function processes(n: number, clock: { t: number }): { streams: PresenceStream[]; writes: Omit<PresenceRecord, 'streamId'>[] } {
  const { store, writes } = slowStore();
  const streams = Array.from({ length: n }, () => new PresenceStream({
    store, notify: () => {}, now: () => clock.t, timings: { offlineAfterMs: 30_000, idleAfterMs: 300_000 },
  }, 0));
  streams.forEach((s, i) => {
    s.share = (shared) => streams.forEach((other, j) => { if (j !== i) other.applyShared(shared); });
  });
  return { streams, writes };
}

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
    const later = new PresenceStream({ store: (first.streams[0] as unknown as { opts: { store: StreamStore } }).opts.store, notify: () => {}, now: () => clock.t }, 1);
    await later.start();
    later.stop();
    clock.t += 31_000;
    expect(await later.sweep()).toBe(1);
    expect(first.writes.map((w) => w.presence)).toEqual(['online', 'offline']);
  });
});
