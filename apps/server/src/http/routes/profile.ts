import type { HandlerMap } from '../handler.js';
import { actor } from './actor.js';

/** Profile reads need no token; writes are the caller's own profile only. */
export const profileHandlers: HandlerMap = {
  getUserProfile: async ({ params, app }) => ({ status: 200, body: await app.profiles.get(params.userId!) }),

  getDisplayName: async ({ params, app }) => {
    const { displayname } = await app.profiles.get(params.userId!);
    return { status: 200, body: displayname !== undefined ? { displayname } : {} };
  },

  getAvatarUrl: async ({ params, app }) => {
    const { avatar_url } = await app.profiles.get(params.userId!);
    return { status: 200, body: avatar_url !== undefined ? { avatar_url } : {} };
  },

  setDisplayName: async (ctx) => {
    const { params, body, app, requester } = ctx;
    await app.profiles.setDisplayname(actor(requester(), ctx), params.userId!, body.displayname);
    return { status: 200, body: {} };
  },

  setAvatarUrl: async (ctx) => {
    const { params, body, app, requester } = ctx;
    await app.profiles.setAvatarUrl(actor(requester(), ctx), params.userId!, body.avatar_url);
    return { status: 200, body: {} };
  },
};
