/**
 * With other processes listening, a batch waits (a moment at most) for as many appends as
 * took part in the last one, so that under load each batch, and each notice every process
 * reads, covers more sends. Alone, nothing waits. The wait is
 * lengthened here (gatherMs) so that the outcome does not depend on this machine's speed.
 * Runs in the PostgreSQL project only.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppendResult } from '../../src/storage/events.js';
import { createPool } from '../../src/storage/postgres/pg-db.js';
import { PgEventStore } from '../../src/storage/postgres/pg-events.js';
import { PgStorage } from '../../src/storage/postgres/pg-storage.js';
import { newEvent as ev } from '../helpers/group-commit.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

const WAIT_MS = 2_000;
let db: TestDatabase;
let pool: pg.Pool;
let store: PgEventStore;
let peers = true;
let room = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  // migrates the database; the store under test has a pool of its own
  await (await PgStorage.open({ url: db.url, poolSize: 1 })).close();
  pool = createPool({ url: db.url, poolSize: 2 });
  store = new PgEventStore(pool, { gatherMs: WAIT_MS });
  store.announceWith({ notice: () => null, announced: () => {}, peers: () => peers });
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await db?.drop();
}, 30_000);

const batches = (): number => store.batchCounts.oneRoundTrip + store.batchCounts.locked;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const send = (roomId: string, body: string): Promise<AppendResult> =>
  store.appendEvents(roomId, (tx) => { tx.append(ev(roomId, 'm.room.message', { body })); });
const positions = (results: AppendResult[]): number[] => results.map((r) => r.events[0]!.stream_ordering);

/**
 * A room in the state cache, so that its sends go in one call each batch; created alone,
 * so that its creation does not gather after the previous test's last batch.
 */
let roomId: string;
async function freshRoom(withPeers: boolean): Promise<void> {
  peers = false;
  roomId = `!gather${++room}:x`;
  await store.appendEvents(roomId, (tx) => { tx.append(ev(roomId, 'm.room.create', { creator: '@u:x' }, '')); });
  peers = withPeers;
}

/** A batch of three (sent in one turn, so together), then three sends 30 ms apart. */
async function burstThenTrickle(): Promise<{ trickle: AppendResult[]; batches: number }> {
  await Promise.all([send(roomId, 'a'), send(roomId, 'b'), send(roomId, 'c')]);
  const before = batches();
  const first = send(roomId, 'd');
  await pause(30);
  const second = send(roomId, 'e');
  await pause(30);
  const trickle = await Promise.all([first, second, send(roomId, 'f')]);
  return { trickle, batches: batches() - before };
}

describe('gathering a batch (PostgreSQL, other processes listening)', () => {
  it('waits for as many appends as the last batch had, then sends them together, in call order', async () => {
    await freshRoom(true);
    const { trickle, batches: n } = await burstThenTrickle();
    expect(n).toBe(1);
    const [p] = positions(trickle);
    expect(positions(trickle)).toEqual([p, p! + 1, p! + 2]);
  });

  it('does not wait alone: each send of the trickle is its own batch', async () => {
    await freshRoom(false);
    const { batches: n } = await burstThenTrickle();
    expect(n).toBeGreaterThan(1);
  });

  it('waits no longer than its bound when the senders do not come back', async () => {
    await freshRoom(true);
    await Promise.all([send(roomId, 'a'), send(roomId, 'b')]);
    const before = batches();
    const started = performance.now();
    const [late] = positions([await send(roomId, 'late')]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(WAIT_MS - 50);
    expect(batches() - before).toBe(1);
    expect(late).toBe(await store.currentStreamOrdering());
  });
});
