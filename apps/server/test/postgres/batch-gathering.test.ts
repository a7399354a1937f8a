/**
 * With other processes listening, a batch waits (a moment at most) for as many appends as
 * took part in the last one, so that under load each batch, and each notice every process
 * reads, covers more sends. Alone, after a batch of one, or soon after a wait ran out of
 * time, nothing waits. The wait is lengthened here (gatherMs) so that the outcome does not
 * depend on this machine's speed; a wait that runs out of time turns gathering off for the
 * rest of the file (20 waits), so that test comes last.
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
import { closeInOrder } from '../helpers/replicator.js';

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

afterAll(() => closeInOrder(pool, db), 30_000);

const batches = (): number => store.batchCounts.oneRoundTrip + store.batchCounts.locked;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const send = (roomId: string, body: string): Promise<AppendResult> =>
  store.appendEvents(roomId, (tx) => { tx.append(ev(roomId, 'm.room.message', { body })); });
const positions = (results: AppendResult[]): number[] => results.map((r) => r.events[0]!.stream_ordering);

/**
 * A send whose plan makes another one: that one is pending while this one's batch is out,
 * as a send from another client would be. Once only, should the plan run again.
 */
function sendStartingAnother(roomId: string, body: string, another: (p: Promise<AppendResult>) => void): Promise<AppendResult> {
  let started = false;
  return store.appendEvents(roomId, (tx) => {
    tx.append(ev(roomId, 'm.room.message', { body }));
    if (!started) another(send(roomId, `${body} meanwhile`));
    started = true;
  });
}

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

/** Sends one at once and each of the others 30 ms after the one before. */
async function trickle(first: Promise<AppendResult>, bodies: string[]): Promise<AppendResult[]> {
  const sent = [first];
  for (const body of bodies) {
    await pause(30);
    sent.push(send(roomId, body));
  }
  return Promise.all(sent);
}

/** A batch of three (sent in one turn, so together), then three sends 30 ms apart. */
async function burstThenTrickle(): Promise<{ sent: AppendResult[]; batches: number; ms: number }> {
  await Promise.all([send(roomId, 'a'), send(roomId, 'b'), send(roomId, 'c')]);
  const before = batches();
  const started = performance.now();
  const sent = await trickle(send(roomId, 'd'), ['e', 'f']);
  return { sent, batches: batches() - before, ms: performance.now() - started };
}

describe('gathering a batch (PostgreSQL, other processes listening)', () => {
  it('waits for as many appends as the last batch had, then sends them together, in call order', async () => {
    await freshRoom(true);
    const { sent, batches: n, ms } = await burstThenTrickle();
    expect(n).toBe(1);
    const [p] = positions(sent);
    expect(positions(sent)).toEqual([p, p! + 1, p! + 2]);
    // the third send ended the wait, not its time limit
    expect(ms).toBeLessThan(WAIT_MS / 2);
  });

  it('counts the appends that arrived while the last batch was out', async () => {
    await freshRoom(true);
    let meanwhile: Promise<AppendResult> | undefined;
    // a batch of two, with a third pending when it settles: the next batch waits for three
    await Promise.all([sendStartingAnother(roomId, 'a', (p) => { meanwhile = p; }), send(roomId, 'b')]);
    const before = batches();
    const sent = await trickle(meanwhile!, ['c', 'd']);
    expect(batches() - before).toBe(1);
    const [p] = positions(sent);
    expect(positions(sent)).toEqual([p, p! + 1, p! + 2]);
  });

  it('does not wait after a batch of one, even with an append pending when it settled', async () => {
    await freshRoom(true);
    let meanwhile: Promise<AppendResult> | undefined;
    await sendStartingAnother(roomId, 'a', (p) => { meanwhile = p; });
    const before = batches();
    await trickle(meanwhile!, ['b']);
    expect(batches() - before).toBe(2);
  });

  it('does not wait alone: each send of the trickle is its own batch', async () => {
    await freshRoom(false);
    const { batches: n } = await burstThenTrickle();
    expect(n).toBeGreaterThan(1);
  });

  it('waits no longer than its bound when the senders do not come back, and then not again for a while', async () => {
    await freshRoom(true);
    await Promise.all([send(roomId, 'a'), send(roomId, 'b'), send(roomId, 'c')]);
    let before = batches();
    const started = performance.now();
    // two of the three come back: the batch goes when the wait runs out
    const late = positions(await trickle(send(roomId, 'x'), ['y']));
    expect(performance.now() - started).toBeGreaterThanOrEqual(WAIT_MS - 50);
    expect(batches() - before).toBe(1);
    expect(late[1]).toBe(await store.currentStreamOrdering());
    // after a batch of two the next would wait for a second send, but the last wait missed
    before = batches();
    await trickle(send(roomId, 'z1'), ['z2']);
    expect(batches() - before).toBe(2);
  });
});
