import { checkPasswordLength } from '../../domain/accounts/password.js';
import { macMatches, registrationMac } from '../../domain/accounts/shared-secret.js';
import { errors } from '../../errors.js';
import type { AppContext } from '../context.js';
import type { HandlerMap } from '../handler.js';

function sharedSecret(app: AppContext): string {
  const secret = app.config.registration_shared_secret;
  // Without a secret the API does not exist, as in Synapse.
  if (secret === undefined) throw errors.unrecognized(404);
  return secret;
}

export const adminHandlers: HandlerMap = {
  getAdminRegisterNonce: async ({ app }) => {
    sharedSecret(app);
    return { status: 200, body: { nonce: app.nonces.issue() } };
  },

  adminRegisterWithSharedSecret: async ({ body, app }) => {
    const secret = sharedSecret(app);
    if (!app.nonces.consume(body.nonce)) throw errors.unknown('unrecognised nonce');
    // Synapse checks the password after the nonce and before the MAC.
    checkPasswordLength(body.password);
    const admin = body.admin === true;
    const expected = registrationMac(secret, body.nonce, body.username, body.password, admin);
    if (!macMatches(expected, body.mac)) throw errors.forbidden('HMAC incorrect');
    const session = await app.accounts.register({ localpart: body.username, password: body.password, admin, viaSharedSecret: true });
    return { status: 200, body: { user_id: session.userId, access_token: session.accessToken, home_server: app.config.server_name } };
  },
};
