import { createHmac } from 'node:crypto';
import type { HandlerMap } from '../handler.js';
import { parseDuration } from '../../config/duration.js';

/**
 * TURN credentials in the shape Synapse serves (synapse/rest/client/voip.py): with
 * turn_shared_secret, a time-limited user name `<expiry seconds>:<user id>` and its
 * HMAC-SHA1 as password; `{}` while no TURN server is configured.
 */
export const voipHandlers: HandlerMap = {
  getTurnServer: async ({ app, requester }) => {
    const userId = requester().userId;
    const { turn_uris: uris, turn_shared_secret: secret } = app.config;
    const lifetimeMs = parseDuration(app.config.turn_user_lifetime);
    if (!uris || uris.length === 0 || !secret) return { status: 200, body: {} };
    const expiry = Math.floor((Date.now() + lifetimeMs) / 1000);
    const username = `${expiry}:${userId}`;
    const password = createHmac('sha1', secret).update(username).digest('base64');
    return { status: 200, body: { username, password, uris: [...uris], ttl: Math.floor(lifetimeMs / 1000) } };
  },
};
