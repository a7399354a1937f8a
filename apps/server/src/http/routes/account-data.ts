import type { JsonObject } from '../../domain/events/types.js';
import { errors } from '../../errors.js';
import type { HandlerMap } from '../handler.js';

const ROOM_ID = /^![^:]+:.+$/;
const MAX_TYPE_LENGTH = 255;

function own(callerId: string, userId: string, what: string): void {
  if (callerId !== userId) throw errors.forbidden(`Cannot ${what} for other users.`);
}

function checkRoomId(roomId: string): void {
  if (!ROOM_ID.test(roomId)) throw errors.invalidParam(`Invalid room ID ${roomId}`);
}

function checkType(type: string): void {
  if (type.length === 0 || type.length > MAX_TYPE_LENGTH) throw errors.invalidParam(`Invalid account data type`);
}

/** Global and per-room account data, and room tags (m.tag room account data). Own data only. */
export const accountDataHandlers: HandlerMap = {
  setAccountData: async ({ params, body, app, requester }) => {
    own(requester().userId, params.userId!, 'add account data');
    checkType(params.type!);
    await app.streams.accountData.put(params.userId!, null, params.type!, body as JsonObject);
    return { status: 200, body: {} };
  },

  setAccountDataPerRoom: async ({ params, body, app, requester }) => {
    own(requester().userId, params.userId!, 'add account data');
    checkRoomId(params.roomId!);
    checkType(params.type!);
    await app.streams.accountData.put(params.userId!, params.roomId!, params.type!, body as JsonObject);
    return { status: 200, body: {} };
  },

  getRoomTags: async ({ params, app, requester }) => {
    own(requester().userId, params.userId!, 'get tags');
    checkRoomId(params.roomId!);
    return { status: 200, body: { tags: await app.streams.accountData.getTags(params.userId!, params.roomId!) } };
  },

  setRoomTag: async ({ params, body, app, requester }) => {
    own(requester().userId, params.userId!, 'add tags');
    checkRoomId(params.roomId!);
    if (params.tag!.length === 0 || params.tag!.length > MAX_TYPE_LENGTH) throw errors.invalidParam('Invalid tag name');
    await app.streams.accountData.setTag(params.userId!, params.roomId!, params.tag!, body as JsonObject);
    return { status: 200, body: {} };
  },

  deleteRoomTag: async ({ params, app, requester }) => {
    own(requester().userId, params.userId!, 'remove tags');
    checkRoomId(params.roomId!);
    await app.streams.accountData.deleteTag(params.userId!, params.roomId!, params.tag!);
    return { status: 200, body: {} };
  },
};
