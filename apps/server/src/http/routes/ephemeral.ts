import { errors } from '../../errors.js';
import type { HandlerMap } from '../handler.js';

/** Synapse's cap on a typing notice (synapse/handlers/typing.py). */
const MAX_TYPING_TIMEOUT_MS = 120_000;
const DEFAULT_TYPING_TIMEOUT_MS = 30_000;

/** Typing notices and read receipts: the room's joined members only. */
export const ephemeralHandlers: HandlerMap = {
  setTyping: async ({ params, body, app, requester }) => {
    const caller = requester().userId;
    const roomId = params.roomId!;
    if (params.userId !== caller) throw errors.forbidden('Cannot set another user\'s typing state');
    if ((await app.storage.events.getMembership(roomId, caller))?.membership !== 'join') {
      throw errors.forbidden(`User ${caller} not in room ${roomId}`);
    }
    if (body.timeout !== undefined && body.timeout < 0) throw errors.invalidParam('timeout must not be negative');
    const timeout = Math.min(body.timeout ?? DEFAULT_TYPING_TIMEOUT_MS, MAX_TYPING_TIMEOUT_MS);
    app.streams.typing.setTyping(roomId, caller, body.typing, timeout);
    return { status: 200, body: {} };
  },

  postReceipt: async ({ params, app, requester }) => {
    const caller = requester().userId;
    const { roomId, receiptType, eventId } = params as { roomId: string; receiptType: string; eventId: string };
    if (receiptType !== 'm.read') throw errors.invalidParam(`Receipt type must be m.read, not ${receiptType}`);
    if ((await app.storage.events.getMembership(roomId, caller))?.membership !== 'join') {
      throw errors.forbidden(`User ${caller} not in room ${roomId}`);
    }
    const ev = await app.storage.events.getEvent(eventId);
    if (!ev || ev.room_id !== roomId) throw errors.notFound('Event not found');
    await app.streams.receipts.addReceipt(roomId, caller, eventId, receiptType);
    return { status: 200, body: {} };
  },
};
