import { checkPasswordLength } from '../../domain/accounts/password.js';
import { REGISTRATION_FLOWS } from '../../domain/accounts/uia.js';
import { errors } from '../../errors.js';
import type { HandlerMap } from '../handler.js';

export const registrationHandlers: HandlerMap = {
  getRegisterFlows: async () => ({ status: 200, body: { flows: [{ type: 'm.login.password' }] } }),

  registerV1: async ({ body, app }) => {
    const session = await app.accounts.register({ localpart: body.user, password: body.password });
    return { status: 200, body: { user_id: session.userId, access_token: session.accessToken, home_server: app.config.server_name } };
  },

  registerV2: async ({ body, app }) => {
    app.accounts.assertRegistrationOpen();
    // Synapse checks the password, then the name, before auth, so clients learn of a bad
    // password or M_USER_IN_USE up front.
    if (body.password !== undefined) checkPasswordLength(body.password);
    if (body.username !== undefined) await app.accounts.checkUsernameAvailable(body.username);
    const auth = body.auth;
    const challenge = (extra: { errcode?: string; error?: string } = {}) => ({
      status: 401 as const,
      body: { flows: REGISTRATION_FLOWS.map((f) => ({ stages: [...f.stages] })), params: {}, session: app.uia.start(), ...extra },
    });
    if (!auth) return challenge();
    if (auth.type !== 'm.login.dummy') return challenge({ errcode: 'M_UNKNOWN', error: `Unsupported auth type ${auth.type}` });
    if (auth.session === undefined || !app.uia.finish(auth.session)) {
      return challenge({ errcode: 'M_UNKNOWN', error: 'Unknown or expired session' });
    }
    const session = await app.accounts.register({ localpart: body.username, password: body.password });
    return { status: 200, body: { user_id: session.userId, access_token: session.accessToken, home_server: app.config.server_name } };
  },

  changePassword: async ({ body, app, requester }) => {
    if (body.new_password.length === 0) throw errors.invalidParam('new_password must not be empty');
    await app.accounts.changePassword(requester(), body.new_password);
    return { status: 200, body: {} };
  },
};
