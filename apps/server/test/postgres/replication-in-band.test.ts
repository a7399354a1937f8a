/**
 * With other processes listening, a one-call batch carries its replication notice: the
 * function that commits it sends the NOTIFY with the positions it gave the events
 * (migration 11), and the replicator publishes nothing more for them. Alone, a batch
 * carries none. Runs in the PostgreSQL project only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PersistedEvent } from '../../src/domain/events/types.js';
import { createLogger } from '../../src/logging.js';
import type { ReplicationBus, ReplicationMessage } from '../../src/replication/bus.js';
import { Replicator } from '../../src/replication/replicator.js';
import type { PgEventStore } from '../../src/storage/postgres/pg-events.js';
import { PgStorage } from '../../src/storage/postgres/pg-storage.js';
import { newEvent as ev } from '../helpers/group-commit.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { attachQuietly, closeInOrder, settled as settledReplicator, standInSync } from '../helpers/replicator.js';

const CHANNEL = 'axon_in_band_test';
let db: TestDatabase;
let store: PgStorage;
let replicator: Replicator;
let listener: pg.Client;
let peers = false;
const published: ReplicationMessage[] = [];
const notices: string[] = [];

const bus: ReplicationBus = {
  publish: (m) => { published.push(m); },
  onMessage: () => {}, onReconnect: () => {}, close: async () => {},
  noticeTarget: () => (peers ? { channel: CHANNEL, prefix: 'origin1 ' } : null),
};

beforeAll(async () => {
  db = await createTestDatabase();
  store = await PgStorage.open({ url: db.url, poolSize: 2 });
  replicator = new Replicator(bus, db.url, createLogger('error'));
  (store.events as PgEventStore).announceWith(replicator.inBandNotice());
  attachQuietly(replicator, standInSync());
  listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  listener.on('notification', (n) => { if (n.channel === CHANNEL && n.payload) notices.push(n.payload); });
  await listener.query(`LISTEN ${CHANNEL}`);
}, 60_000);

afterAll(() => closeInOrder(listener, replicator, store, db), 30_000);

const settled = (): Promise<void> => settledReplicator(replicator);

async function sendBatch(roomId: string): Promise<PersistedEvent[]> {
  const [a, b] = await Promise.all([
    store.events.appendEvents(roomId, (tx) => {
      tx.append(ev(roomId, 'm.room.create', { creator: '@u:x' }, ''));
      tx.append(ev(roomId, 'm.room.member', { membership: 'join' }, '@u:x'));
    }),
    store.events.appendEvents(roomId, (tx) => { tx.append(ev(roomId, 'm.room.message', { body: 'hi' })); }),
  ]);
  const events = [...a!.events, ...b!.events];
  for (const r of [a!, b!]) replicator.onLocalPersisted(r.events);
  await settled();
  return events;
}

/** A room in the store's state cache (so the next batch goes in one call), and nothing recorded yet. */
async function cachedRoom(roomId: string, withPeers: boolean): Promise<void> {
  await sendBatch(roomId);
  published.length = 0;
  notices.length = 0;
  peers = withPeers;
}

async function noticeCount(n: number): Promise<void> {
  for (let i = 0; i < 100 && notices.length < n; i++) await new Promise((r) => setTimeout(r, 20));
}

describe('in-band replication notices', () => {
  it('alone, a batch carries no notice and the replicator publishes as ever (held back by the bus)', async () => {
    const room = '!alone:x';
    // the first batch takes the locked path (the room is not in the store's cache yet)
    await cachedRoom(room, false);
    // and the store does not gather batches for others (PgEventStore.gather)
    expect(replicator.inBandNotice().peers()).toBe(false);
    const counts = (store.events as PgEventStore).batchCounts;
    const oneCall = counts.oneRoundTrip;
    const [m1, m2] = await Promise.all([1, 2].map((n) => store.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.message', { n })); })));
    expect(counts.oneRoundTrip).toBe(oneCall + 1);
    replicator.onLocalPersisted(m1!.events);
    replicator.onLocalPersisted(m2!.events);
    await settled();
    await new Promise((r) => setTimeout(r, 100));
    expect(notices).toEqual([]);
    expect(published).toEqual([
      { t: 'events', pos: m1!.events[0]!.stream_ordering, from: m1!.events[0]!.stream_ordering - 1, evs: [[m1!.events[0]!.stream_ordering, room]] },
      { t: 'events', pos: m2!.events[0]!.stream_ordering, from: m2!.events[0]!.stream_ordering - 1, evs: [[m2!.events[0]!.stream_ordering, room]] },
    ]);
  });

  it('a batch with a redaction is announced after it, not by the call (the redaction is applied after the commit)', async () => {
    const room = '!redact:x';
    await cachedRoom(room, true);
    const counts = (store.events as PgEventStore).batchCounts;
    const oneCall = counts.oneRoundTrip;
    const res = await store.events.appendEvents(room, (tx) => { tx.append({ ...ev(room, 'm.room.redaction', {}), redacts: '$gone' }); });
    expect(counts.oneRoundTrip).toBe(oneCall + 1);
    replicator.onLocalPersisted(res.events);
    await settled();
    await new Promise((r) => setTimeout(r, 100));
    expect(notices).toEqual([]);
    expect(published).toEqual([{ t: 'events', pos: res.events[0]!.stream_ordering, from: res.events[0]!.stream_ordering - 1 }]);
    peers = false;
  });

  it('with peers, the committing call sends the notice, with the positions it gave', async () => {
    const room = '!peers:x';
    await cachedRoom(room, true);
    expect(replicator.inBandNotice().peers()).toBe(true);
    // the room's state is cached now: these go in one call
    const [m1, m2] = await Promise.all([
      store.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.message', { body: 'one' })); }),
      store.events.appendEvents(room, (tx) => { tx.append(ev(room, 'm.room.member', { membership: 'leave' }, '@u:x')); }),
    ]);
    const [p1, p2] = [m1!.events[0]!.stream_ordering, m2!.events[0]!.stream_ordering];
    replicator.onLocalPersisted(m1!.events);
    replicator.onLocalPersisted(m2!.events);
    await settled();
    await noticeCount(1);
    expect(notices).toHaveLength(1);
    expect(notices[0]!.startsWith('origin1 ')).toBe(true);
    // the membership is not named: receivers read it
    expect(JSON.parse(notices[0]!.slice('origin1 '.length))).toEqual([{ t: 'events', pos: p2, evs: [[p1, room]] }]);
    expect(published).toEqual([]);
    peers = false;
  });
});
