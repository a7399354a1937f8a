import { describe, expect, it } from 'vitest';
import type { PresenceRecord } from '../../../storage/streams.js';
import { RecentPresence } from './recent-presence.js';

const rec = (userId: string, streamId: number): PresenceRecord =>
  ({ userId, presence: 'online', statusMsg: null, lastActiveTs: streamId, streamId });

/** What the store answers: one row per user, its latest change, when that falls in (from, to]. */
function storeRange(rows: Map<string, PresenceRecord>, from: number, to: number): PresenceRecord[] {
  return [...rows.values()].filter((r) => r.streamId > from && r.streamId <= to).sort((a, b) => a.streamId - b.streamId);
}

describe('RecentPresence', () => {
  it('answers every range the store would, for local writes, through supersession and eviction', () => {
    const recent = new RecentPresence(10, 5);
    const rows = new Map<string, PresenceRecord>();
    let pos = 10;
    let seed = 7;
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return (seed >>> 16) % n; };
    let answered = 0;
    for (let step = 0; step < 400; step++) {
      const r = rec(`@u${rand(8)}:x`, ++pos);
      rows.set(r.userId, r);
      recent.add(r);
      for (let k = 0; k < 5; k++) {
        const from = Math.max(10, pos - rand(30));
        const to = from + rand(pos - from + 1);
        const got = recent.inRange(from, to);
        if (got === undefined) continue;
        answered++;
        expect(got, `(${from}, ${to}] at ${pos}`).toEqual(storeRange(rows, from, to));
      }
    }
    // it does answer: recent ranges at least
    expect(answered).toBeGreaterThan(500);
    expect(recent.inRange(pos - 1, pos)).toEqual([rows.get([...rows.values()].find((r) => r.streamId === pos)!.userId)]);
  });

  it('does not answer ranges reaching past its last write, or before it started', () => {
    const recent = new RecentPresence(10);
    recent.add(rec('@a:x', 11));
    expect(recent.inRange(10, 11)).toEqual([rec('@a:x', 11)]);
    expect(recent.inRange(10, 12)).toBeUndefined();
    expect(recent.inRange(9, 11)).toBeUndefined();
  });

  it('starts over after a position it did not write (another process), answering only what follows', () => {
    const recent = new RecentPresence(0);
    recent.add(rec('@a:x', 1));
    recent.add(rec('@b:x', 3)); // 2 was written elsewhere
    expect(recent.inRange(0, 3)).toBeUndefined();
    expect(recent.inRange(1, 3)).toBeUndefined();
    expect(recent.inRange(3, 3)).toEqual([]);
    recent.add(rec('@c:x', 4));
    expect(recent.inRange(3, 4)).toEqual([rec('@c:x', 4)]);
    // out of order: an older position arriving late
    recent.add(rec('@d:x', 2));
    expect(recent.inRange(3, 4)).toBeUndefined();
    recent.add(rec('@e:x', 5));
    expect(recent.inRange(4, 5)).toEqual([rec('@e:x', 5)]);
  });
});
