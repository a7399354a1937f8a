import type { JsonObject } from '../../domain/events/types.js';
import { errors } from '../../errors.js';
import type { HandlerMap } from '../handler.js';
import { actor } from './actor.js';

/** createRoom, membership, sending and redaction: parse, call the room service, answer. */
export const roomHandlers: HandlerMap = {
  createRoom: async ({ body, app, requester }) => {
    const { roomId, roomAlias } = await app.rooms.createRoom(actor(requester()), body ?? {});
    return { status: 200, body: { room_id: roomId, ...(roomAlias !== undefined ? { room_alias: roomAlias } : {}) } };
  },

  joinRoomById: async ({ params, app, requester }) => {
    const roomId = await app.rooms.resolveRoom(params.roomId!);
    await app.rooms.join(actor(requester()), roomId);
    return { status: 200, body: { room_id: roomId } };
  },

  joinRoom: async ({ params, app, requester }) => {
    const roomId = await app.rooms.resolveRoom(params.roomIdOrAlias!);
    await app.rooms.join(actor(requester()), roomId);
    return { status: 200, body: { room_id: roomId } };
  },

  inviteUser: async ({ params, body, app, requester }) => {
    await app.rooms.invite(actor(requester()), params.roomId!, body.user_id);
    return { status: 200, body: {} };
  },

  leaveRoom: async ({ params, app, requester }) => {
    await app.rooms.leave(actor(requester()), params.roomId!);
    return { status: 200, body: {} };
  },

  forgetRoom: async ({ params, app, requester }) => {
    await app.rooms.forget(actor(requester()), params.roomId!);
    return { status: 200, body: {} };
  },

  kickUser: async ({ params, body, app, requester }) => {
    await app.rooms.kick(actor(requester()), params.roomId!, body.user_id, body.reason);
    return { status: 200, body: {} };
  },

  banUser: async ({ params, body, app, requester }) => {
    await app.rooms.ban(actor(requester()), params.roomId!, body.user_id, body.reason);
    return { status: 200, body: {} };
  },

  unbanUser: async ({ params, body, app, requester }) => {
    await app.rooms.unban(actor(requester()), params.roomId!, body.user_id);
    return { status: 200, body: {} };
  },

  sendMessage: async ({ params, body, app, requester }) => {
    const ev = await app.rooms.send(actor(requester()), params.roomId!, params.eventType!, (body ?? {}) as JsonObject, { txnId: params.txnId! });
    return { status: 200, body: { event_id: ev.event_id } };
  },

  postMessage: async ({ params, body, app, requester }) => {
    const ev = await app.rooms.send(actor(requester()), params.roomId!, params.eventType!, (body ?? {}) as JsonObject);
    return { status: 200, body: { event_id: ev.event_id } };
  },

  redactEvent: async ({ params, body, app, requester }) => {
    const ev = await app.rooms.send(actor(requester()), params.roomId!, 'm.room.redaction', redactionContent(body),
      { txnId: params.txnId!, redacts: params.eventId! });
    return { status: 200, body: { event_id: ev.event_id } };
  },

  postRedaction: async ({ params, body, app, requester }) => {
    const ev = await app.rooms.send(actor(requester()), params.roomId!, 'm.room.redaction', redactionContent(body),
      { redacts: params.eventId! });
    return { status: 200, body: { event_id: ev.event_id } };
  },
};

function redactionContent(body: { reason?: string } | undefined): JsonObject {
  if (body?.reason !== undefined && typeof body.reason !== 'string') throw errors.badJson('reason must be a string');
  return body?.reason !== undefined ? { reason: body.reason } : {};
}
