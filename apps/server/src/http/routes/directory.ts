import type { Requester } from '../../domain/accounts/accounts.js';
import type { HandlerMap } from '../handler.js';

const actor = (r: Requester) => ({ userId: r.userId, tokenHash: r.tokenHash });

/** Room aliases (`/directory/room/{roomAlias}`) and the public room list. */
export const directoryHandlers: HandlerMap = {
  getRoomIdByAlias: async ({ params, app }) => ({ status: 200, body: await app.directory.resolve(params.roomAlias!) }),

  setRoomAlias: async ({ params, body, app, requester }) => {
    await app.directory.create(actor(requester()), params.roomAlias!, body.room_id);
    return { status: 200, body: {} };
  },

  deleteRoomAlias: async ({ params, app, requester }) => {
    await app.directory.delete(actor(requester()), params.roomAlias!);
    return { status: 200, body: {} };
  },

  getPublicRooms: async ({ app }) => ({ status: 200, body: await app.directory.publicRooms() }),
};
