import { describe, expect, it } from 'vitest';
import type { PresenceRecord, StreamStore } from '../../../storage/streams.js';
import { PresenceStream } from './presence.js';

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
