/**
 * Events another process committed that this one left unread (SyncService.onPersistedUnread,
 * fed by the Replicator): "now" moves past them, a range read for rooms that want one goes
 * to the store and a range for other rooms steps over it, and the room's initialSync tail
 * is dropped. A redaction applied by another process drops the tails holding its target.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEvent as ev } from '../../../test/helpers/group-commit.js';
import { SqliteStorage } from '../../storage/sqlite/sqlite-storage.js';
import type { PersistedEvent } from '../events/types.js';
import { SyncService } from './sync-service.js';

let dir: string;
let storage: SqliteStorage;
let sync: SyncService;
let storeReads = 0;

interface Internals {
  eventsInRange(rooms: ReadonlySet<string>, from: number, to: number, limit: number): Promise<PersistedEvent[]>;
  tails: Map<string, unknown>;
}
const internals = (): Internals => sync as unknown as Internals;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'axon-unread-'));
  storage = new SqliteStorage({ file: path.join(dir, 'db.sqlite'), synchronous: 'NORMAL' });
  const events = storage.events;
  const read = events.getEventsInStreamRange.bind(events);
  events.getEventsInStreamRange = (...args) => { storeReads++; return read(...args); };
  sync = await SyncService.create({ events, streams: storage.streams });
});
afterAll(async () => {
  sync?.stop();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Appends to the store, as another process would, without telling the sync service. */
async function elsewhere(roomId: string, type: string, content: Record<string, unknown>, stateKey?: string): Promise<PersistedEvent> {
  return (await storage.events.appendEvents(roomId, (tx) => { tx.append(ev(roomId, type, content, stateKey)); })).events[0]!;
}

/** Appends and hands the event over as read (onPersisted). */
async function here(roomId: string, type: string, content: Record<string, unknown>, stateKey?: string): Promise<PersistedEvent> {
  const e = await elsewhere(roomId, type, content, stateKey);
  sync.onPersisted([e]);
  return e;
}

describe('events left unread', () => {
  it('move now on; a wanted range is read from the store, an unwanted one stepped over; the tail goes', async () => {
    const busy = '!busy:x';
    const quiet = '!quiet:x';
    const b1 = await here(busy, 'm.room.create', { creator: '@u:x' }, '');
    await here(quiet, 'm.room.create', { creator: '@u:x' }, '');
    expect(internals().tails.has(quiet)).toBe(true);
    const q1 = await elsewhere(quiet, 'm.room.message', { body: 'unread' });
    sync.onPersistedUnread([{ stream_ordering: q1.stream_ordering, room_id: quiet }]);
    const b2 = await here(busy, 'm.room.message', { body: 'read' });
    expect(sync.currentToken().room.stream).toBe(b2.stream_ordering);
    expect(internals().tails.has(quiet)).toBe(false);

    const from = b1.stream_ordering - 1;
    storeReads = 0;
    // the busy room's poll steps over the quiet room's unread event, from memory
    const forBusy = await internals().eventsInRange(new Set([busy]), from, b2.stream_ordering, 100);
    expect(forBusy.map((e) => e.event_id)).toEqual([b1.event_id, b2.event_id]);
    expect(storeReads).toBe(0);
    // the quiet room's poll needs the event itself: the store
    const forQuiet = await internals().eventsInRange(new Set([quiet]), from, b2.stream_ordering, 100);
    expect(forQuiet.map((e) => e.event_id)).toContain(q1.event_id);
    expect(storeReads).toBe(1);
  });

  it('a redaction applied elsewhere drops the tails holding its target', async () => {
    const room = '!tail:x';
    await here(room, 'm.room.create', { creator: '@u:x' }, '');
    const target = await here(room, 'm.room.message', { body: 'secret' });
    expect(internals().tails.has(room)).toBe(true);
    sync.forgetRedacted(target.event_id);
    expect(internals().tails.has(room)).toBe(false);
  });
});
