import { describe, expect, it } from 'vitest';
import { appendedEvent } from '../../storage/rows.js';
import type { AppendResult, AppendTransaction, EventStore, NewEvent } from '../../storage/events.js';
import type { JsonObject, PersistedEvent } from '../events/types.js';
import { RoomService, type Actor } from './room-service.js';
import { RoomState } from './room-state.js';

const ROOM = '!r:hs';
const ALICE = '@alice:hs';
let n = 0;
function stateEvent(type: string, stateKey: string, content: JsonObject, sender = ALICE): PersistedEvent {
  n++;
  return { event_id: `$${n}:hs`, room_id: ROOM, type, state_key: stateKey, sender, content, origin_server_ts: n, stream_ordering: n, topological_ordering: n };
}

const base = [
  stateEvent('m.room.create', '', { creator: ALICE }),
  stateEvent('m.room.member', ALICE, { membership: 'join' }),
  stateEvent('m.room.power_levels', '', { users: { [ALICE]: 100 }, users_default: 0, events_default: 0, state_default: 50 }),
];

/**
 * A store that runs each plan twice, as PostgreSQL's does when its cached state turns out
 * stale: first against `stale`, then against `current`, keeping only the second run.
 */
function storeRunningPlansTwice(stale: RoomState, current: RoomState): EventStore {
  const run = (state: RoomState, plan: (tx: AppendTransaction) => void): PersistedEvent[] => {
    const appended: PersistedEvent[] = [];
    plan({
      state,
      append: (ev: NewEvent) => {
        const persisted = appendedEvent(ev, ROOM, undefined, 100 + appended.length, 100 + appended.length);
        appended.push(persisted);
        return persisted;
      },
    });
    return appended;
  };
  return {
    roomExists: async () => true,
    appendEvents: async (_roomId: string, plan: (tx: AppendTransaction) => void): Promise<AppendResult> => {
      run(stale, plan);
      return { events: run(current, plan), deduplicated: false };
    },
  } as unknown as EventStore;
}

describe('RoomService.send', () => {
  it('answers from the plan\'s last run when the store plans again on fresher state', async () => {
    const sameTopic = stateEvent('m.room.topic', '', { topic: 'same' });
    const stale = new RoomState([...base, sameTopic]);
    const current = new RoomState([...base, stateEvent('m.room.topic', '', { topic: 'other' })]);
    const persisted: PersistedEvent[][] = [];
    const rooms = new RoomService({
      serverName: 'hs', store: storeRunningPlansTwice(stale, current),
      profileOf: async () => ({}), userExists: async () => true, onPersisted: (events) => persisted.push([...events]),
    });
    const actor: Actor = { userId: ALICE, tokenHash: 'h' };
    // on the stale state this is a no-op (the same sender, the same content); on the current one it is a change
    const sent = await rooms.send(actor, ROOM, 'm.room.topic', { topic: 'same' }, { stateKey: '' });
    expect(sent.event_id).not.toBe(sameTopic.event_id);
    expect(sent.content).toEqual({ topic: 'same' });
    expect(persisted).toEqual([[sent]]);
  });
});
