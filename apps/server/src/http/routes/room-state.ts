import type { RoomMemberEvent } from '@axon/contract/events';
import type { JsonObject } from '../../domain/events/types.js';
import { formatStateEvent } from '../../domain/events/format.js';
import { errors } from '../../errors.js';
import type { HandlerMap } from '../handler.js';
import { actor } from './actor.js';

/** Room state reads and writes; membership set through here obeys the same rules. */
export const roomStateHandlers: HandlerMap = {
  setRoomState: async ({ params, body, app, requester }) => {
    const ev = await app.rooms.send(actor(requester()), params.roomId!, params.eventType!, (body ?? {}) as JsonObject, { stateKey: '' });
    return { status: 200, body: { event_id: ev.event_id } };
  },

  setRoomStateWithKey: async ({ params, body, app, requester }) => {
    const ev = await app.rooms.send(actor(requester()), params.roomId!, params.eventType!, (body ?? {}) as JsonObject,
      { stateKey: params.stateKey ?? '' });
    return { status: 200, body: { event_id: ev.event_id } };
  },

  getRoomState: async ({ params, app, requester }) => {
    const state = await app.roomReads.visibleState(requester().userId, params.roomId!);
    const ev = state.get(params.eventType!, '');
    if (!ev) throw errors.notFound('Event not found.');
    return { status: 200, body: ev.content };
  },

  getRoomStateWithKey: async ({ params, app, requester }) => {
    const state = await app.roomReads.visibleState(requester().userId, params.roomId!);
    const ev = state.get(params.eventType!, params.stateKey ?? '');
    if (!ev) throw errors.notFound('Event not found.');
    return { status: 200, body: ev.content };
  },

  getRoomStateEvents: async ({ params, app, requester }) => {
    const state = await app.roomReads.visibleState(requester().userId, params.roomId!);
    const now = Date.now();
    return { status: 200, body: [...state.events()].map((ev) => formatStateEvent(ev, now)) };
  },

  getMembersByRoom: async ({ params, app, requester }) => {
    const state = await app.roomReads.visibleState(requester().userId, params.roomId!);
    const now = Date.now();
    const chunk = [...state.events()].filter((ev) => ev.type === 'm.room.member').map((ev) => formatStateEvent(ev, now));
    // Filtered on type above: these are m.room.member events (test mode validates each).
    return { status: 200, body: { chunk: chunk as unknown as RoomMemberEvent[] } };
  },
};
