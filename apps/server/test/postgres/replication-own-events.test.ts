/**
 * Replication feeds a process's own events as they are, and reads from the database only
 * the other processes' events between them: every position once, in stream order, and
 * none of its own read back. Runs in the PostgreSQL project only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PersistedEvent } from '../../src/domain/events/types.js';
import { createLogger } from '../../src/logging.js';
import type { ReplicationBus, ReplicationMessage } from '../../src/replication/bus.js';
import { Replicator } from '../../src/replication/replicator.js';
import { PgStorage } from '../../src/storage/postgres/pg-storage.js';
import { newEvent as ev } from '../helpers/group-commit.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { attachQuietly, closeInOrder, settled as settledReplicator, standInSync, watchRangeReads } from '../helpers/replicator.js';

let db: TestDatabase;
let mine: PgStorage;
let other: PgStorage;
let replicator: Replicator;
const fed: PersistedEvent[] = [];
/** The (from, to] ranges the replicator read from the database. */
const reads: [number, number][] = [];

const published: ReplicationMessage[] = [];
let peerHeard: (() => void) | undefined;
const bus: ReplicationBus = {
  publish: (m) => { published.push(m); }, onMessage: () => {}, onReconnect: () => {}, close: async () => {},
  onPeer: (h) => { peerHeard = h; },
};

beforeAll(async () => {
  db = await createTestDatabase();
  mine = await PgStorage.open({ url: db.url, poolSize: 2 });
  other = await PgStorage.open({ url: db.url, poolSize: 2 });
  replicator = new Replicator(bus, db.url, createLogger('error'));
  watchRangeReads(replicator, (params) => { reads.push([Number(params[0]), Number(params[1])]); });
  attachQuietly(replicator, standInSync({
    onPersisted: (events: readonly PersistedEvent[]) => { fed.push(...events); },
  }));
  // and the catch-up that attach starts is over before anything is written
  await settled();
}, 60_000);

afterAll(() => closeInOrder(replicator, mine, other, db), 30_000);

/** Appends through this process's store and hands the events over, as RoomService does. */
async function appendMine(roomId: string, type: string, content: Record<string, unknown>, stateKey?: string): Promise<PersistedEvent> {
  const res = await mine.events.appendEvents(roomId, (tx) => { tx.append(ev(roomId, type, content, stateKey)); });
  replicator.onLocalPersisted(res.events);
  return res.events[0]!;
}

const settled = (): Promise<void> => settledReplicator(replicator);

describe('replication of a process\'s own events', () => {
  it('feeds them as they are, and reads only the others\' events between them', async () => {
    const room = '!rep:x';
    const created = await appendMine(room, 'm.room.create', { creator: '@u:x' }, '');
    await settled();
    // another process writes two events, then this one writes again
    await other.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.message', { body: 'o1' })); });
    await other.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.message', { body: 'o2' })); });
    const mine2 = await appendMine(room, 'm.room.message', { body: 'm2' });
    await settled();

    expect(fed.map((e) => e.stream_ordering)).toEqual([1, 2, 3, 4]);
    expect(fed[0]).toBe(created);
    expect(fed[3]).toBe(mine2);
    expect(fed.slice(1, 3).map((e) => e.content)).toEqual([{ body: 'o1' }, { body: 'o2' }]);
    // what was read: the others' two events, not this process's own
    expect(reads.some(([from, to]) => from < 4 && to >= 4)).toBe(false);
    expect(reads.some(([from, to]) => from < 2 && to >= 3)).toBe(true);
  });

  it('an own event read from the database before it was handed over is fed once', async () => {
    const room = '!rep2:x';
    const start = fed.length;
    const head = fed.at(-1)!.stream_ordering;
    // committed, but not handed over yet; then another process writes after it
    const early = await mine.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.create', { creator: '@u:x' }, '')); });
    await other.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.message', { body: 'o3' })); });
    // the safety poll (or a NOTIFY) gets there first and reads both
    (replicator as unknown as { catchUp(): void }).catchUp();
    await settled();
    replicator.onLocalPersisted(early.events);
    const late = await appendMine(room, 'm.room.message', { body: 'm3' });
    await settled();
    expect(fed.slice(start).map((e) => e.stream_ordering)).toEqual([head + 1, head + 2, head + 3]);
    expect(fed.at(-1)).toBe(late);
    expect((replicator as unknown as { own: Map<number, unknown> }).own.size).toBe(0);
  });

  it('announces its newest position when the bus first hears another process', async () => {
    const room = '!peer:x';
    await appendMine(room, 'm.room.create', { creator: '@u:x' }, '');
    const newest = await appendMine(room, 'm.room.topic', { topic: 'while alone' }, '');
    published.length = 0;
    peerHeard!();
    expect(published).toEqual([{ t: 'events', pos: newest.stream_ordering }]);
    await settled();
  });
});
