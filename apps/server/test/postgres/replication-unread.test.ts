/**
 * Another process's events in rooms this process does not serve, when its notice names
 * them, are passed on as positions only (SyncService.onPersistedUnread) and never read
 * from the database; memberships, redactions, events in rooms served here and positions
 * no notice names are read as before. Runs in the PostgreSQL project only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PersistedEvent } from '../../src/domain/events/types.js';
import { createLogger } from '../../src/logging.js';
import type { ReplicationBus, ReplicationMessage } from '../../src/replication/bus.js';
import { Replicator } from '../../src/replication/replicator.js';
import { PgStorage } from '../../src/storage/postgres/pg-storage.js';
import { newEvent as ev } from '../helpers/group-commit.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { attachQuietly, closeInOrder, queued, settled as settledReplicator, standInSync, watchRangeReads } from '../helpers/replicator.js';

let db: TestDatabase;
let mine: PgStorage;
let other: PgStorage;
let replicator: Replicator;
let deliver: (m: ReplicationMessage) => void = () => {};
const published: ReplicationMessage[] = [];
const fed: number[] = [];
const unread: [number, string][] = [];
/** Positions the replicator read from the database. */
const read = new Set<number>();
const served = new Set<string>();

const bus: ReplicationBus = {
  publish: (m) => { published.push(m); },
  onMessage: (h) => { deliver = h; },
  onReconnect: () => {}, close: async () => {},
};

beforeAll(async () => {
  db = await createTestDatabase();
  mine = await PgStorage.open({ url: db.url, poolSize: 2 });
  other = await PgStorage.open({ url: db.url, poolSize: 2 });
  replicator = new Replicator(bus, db.url, createLogger('error'));
  watchRangeReads(replicator, (_params, rows) => { for (const r of rows) read.add(Number(r['stream_ordering'])); });
  attachQuietly(replicator, standInSync({
    servesRoom: (roomId: string) => served.has(roomId),
    onPersisted: (events: readonly PersistedEvent[]) => { fed.push(...events.map((e) => e.stream_ordering)); },
    onPersistedUnread: (events: readonly { stream_ordering: number; room_id: string }[]) => {
      unread.push(...events.map((e): [number, string] => [e.stream_ordering, e.room_id]));
    },
  }));
  await settled();
}, 60_000);

afterAll(() => closeInOrder(replicator, mine, other, db), 30_000);

const settled = (): Promise<void> => settledReplicator(replicator);

/** Appends through "another process" and returns the events' positions. */
async function appendOther(roomId: string, type: string, content: Record<string, unknown>, stateKey?: string): Promise<number> {
  const res = await other.events.appendEvents(roomId, (tx) => { tx.append(ev(roomId, type, content, stateKey)); });
  return res.events[0]!.stream_ordering;
}

describe('replication of events this process does not serve', () => {
  it('leaves named events in unserved rooms unread, and reads the rest in order', async () => {
    const quiet = '!quiet:x';
    const busy = '!busy:x';
    served.add(busy);
    const c1 = await appendOther(quiet, 'm.room.create', { creator: '@u:x' }, '');
    const c2 = await appendOther(busy, 'm.room.create', { creator: '@u:x' }, '');
    const m1 = await appendOther(quiet, 'm.room.message', { body: 'one' });
    const m2 = await appendOther(busy, 'm.room.message', { body: 'two' });
    const j = await appendOther(quiet, 'm.room.member', { membership: 'join' }, '@u:x');
    const m3 = await appendOther(quiet, 'm.room.message', { body: 'three' });
    const m4 = await appendOther(quiet, 'm.room.message', { body: 'four' });
    // as the writer names them (not the membership), and m4 in no notice
    deliver({ t: 'events', pos: m4, evs: [[c1, quiet], [c2, busy], [m1, quiet], [m2, busy], [m3, quiet]] });
    await settled();

    expect(unread).toEqual([[c1, quiet], [m1, quiet], [m3, quiet]]);
    expect(fed).toEqual([c2, m2, j, m4]);
    expect([...read].sort((a, b) => a - b)).toEqual([c2, m2, j, m4]);
    // every position once, in order
    expect([...unread.map(([p]) => p), ...fed].sort((a, b) => a - b)).toEqual([c1, c2, m1, m2, j, m3, m4]);
  });

  it('reads a named event once its room is served', async () => {
    const room = '!later:x';
    const before = unread.length;
    const m = await appendOther(room, 'm.room.message', { body: 'wanted' });
    served.add(room);
    deliver({ t: 'events', pos: m, evs: [[m, room]] });
    await settled();
    expect(unread.length).toBe(before);
    expect(fed.at(-1)).toBe(m);
    expect(read.has(m)).toBe(true);
  });

  it('a writer names its events but not memberships or redactions', async () => {
    const room = '!named:x';
    published.length = 0;
    const res = await mine.events.appendEvents(room, (tx) => {
      tx.append(ev(room, 'm.room.create', { creator: '@u:x' }, ''));
      tx.append(ev(room, 'm.room.member', { membership: 'join' }, '@u:x'));
      tx.append(ev(room, 'm.room.message', { body: 'hi' }));
      tx.append({ ...ev(room, 'm.room.redaction', {}), redacts: '$gone' });
    });
    replicator.onLocalPersisted(res.events);
    const [create, , message, redaction] = res.events.map((e) => e.stream_ordering);
    // and covers its four positions: (create - 1, redaction]
    expect(published).toEqual([{ t: 'events', pos: redaction, from: create! - 1, evs: [[create, room], [message, room]] }]);
    await settled();
  });
});

describe('notices of several writers, arriving out of order', () => {
  it('a later writer\'s notice waits for an earlier one\'s still on its way, and named events stay unread', async () => {
    const room = '!order:x';
    const p1 = await appendOther(room, 'm.room.message', { body: 'first writer' });
    const p2 = await appendOther(room, 'm.room.message', { body: 'second writer' });
    const before = unread.length;
    const fedBefore = fed.length;
    deliver({ t: 'events', pos: p2, from: p2 - 1, evs: [[p2, room]] });
    await queued(replicator);
    // waiting at p1: nothing passed on, nothing read
    expect(unread.length).toBe(before);
    expect(fed.length).toBe(fedBefore);
    expect(read.has(p1)).toBe(false);
    deliver({ t: 'events', pos: p1, from: p1 - 1, evs: [[p1, room]] });
    await settled();
    expect(unread.slice(before)).toEqual([[p1, room], [p2, room]]);
    expect(fed.length).toBe(fedBefore);
    expect(read.has(p1) || read.has(p2)).toBe(false);
  });

  it('a position a notice covers but does not name (a membership) is read at once', async () => {
    const room = '!covered:x';
    const j = await appendOther(room, 'm.room.member', { membership: 'join' }, '@v:x');
    deliver({ t: 'events', pos: j, from: j - 1 });
    await queued(replicator);
    expect(fed.at(-1)).toBe(j);
    expect(read.has(j)).toBe(true);
  });

  it('a position no notice covers (its notice lost) is read after a moment, in order', async () => {
    const room = '!lost:x';
    const lost = await appendOther(room, 'm.room.message', { body: 'never announced' });
    const lost2 = await appendOther(room, 'm.room.message', { body: 'nor this' });
    const told = await appendOther(room, 'm.room.message', { body: 'announced' });
    const before = unread.length;
    deliver({ t: 'events', pos: told, from: told - 1, evs: [[told, room]] });
    await queued(replicator);
    expect(read.has(lost)).toBe(false);
    await settled();
    expect(read.has(lost) && read.has(lost2)).toBe(true);
    expect(fed.slice(-2)).toEqual([lost, lost2]);
    expect(unread.slice(before)).toEqual([[told, room]]);
  });

  it('a forged notice of positions far past the stream neither stalls the feed nor turns its waiting off', async () => {
    deliver({ t: 'events', pos: 2_000_000_000, from: 0 });
    await queued(replicator);
    const room = '!forged:x';
    const lost = await appendOther(room, 'm.room.message', { body: 'not announced yet' });
    const told = await appendOther(room, 'm.room.message', { body: 'announced' });
    deliver({ t: 'events', pos: told, from: told - 1, evs: [[told, room]] });
    await queued(replicator);
    expect(read.has(lost)).toBe(false);
    await settled();
    expect(read.has(lost)).toBe(true);
  });

  it('a notice without `from` (NOTIFY in band, an earlier version) announces everything below it: read at once', async () => {
    const room = '!old:x';
    const p1 = await appendOther(room, 'm.room.message', { body: 'one' });
    const p2 = await appendOther(room, 'm.room.message', { body: 'two' });
    deliver({ t: 'events', pos: p2, evs: [[p2, room]] });
    await queued(replicator);
    expect(read.has(p1)).toBe(true);
    expect(fed.at(-1)).toBe(p1);
    expect(unread.at(-1)).toEqual([p2, room]);
  });
});
