import { errors } from '../../errors.js';
import type { HandlerMap } from '../handler.js';

export const loginHandlers: HandlerMap = {
  getLoginFlows: async () => ({ status: 200, body: { flows: [{ type: 'm.login.password' }] } }),

  login: async ({ body, app }) => {
    if (body.type !== 'm.login.password') throw errors.unknown(`Unknown login type ${body.type}`);
    if (body.user === undefined) throw errors.missingParam('Missing parameter: user');
    if (body.password === undefined) throw errors.missingParam('Missing parameter: password');
    const session = await app.accounts.login(body.user, body.password);
    return { status: 200, body: { user_id: session.userId, access_token: session.accessToken, home_server: app.config.server_name } };
  },

  logout: async ({ app, requester }) => {
    await app.accounts.logout(requester());
    return { status: 200, body: {} };
  },
};
