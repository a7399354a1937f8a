import type { HandlerMap } from '../handler.js';
import { actor } from './actor.js';

/** Room aliases (`/directory/room/{roomAlias}`) and the public room list. */
export const directoryHandlers: HandlerMap = {
  getRoomIdByAlias: async ({ params, app }) => ({ status: 200, body: await app.directory.resolve(params.roomAlias!) }),

  setRoomAlias: async (ctx) => {
    const { params, body, app, requester } = ctx;
    await app.directory.create(actor(requester(), ctx), params.roomAlias!, body.room_id);
    return { status: 200, body: {} };
  },

  deleteRoomAlias: async (ctx) => {
    const { params, app, requester } = ctx;
    await app.directory.delete(actor(requester(), ctx), params.roomAlias!);
    return { status: 200, body: {} };
  },

  getPublicRooms: async ({ app }) => ({ status: 200, body: await app.directory.publicRooms() }),
};
