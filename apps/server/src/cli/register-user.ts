import { loadConfig } from '../config/load.js';
import { registrationMac } from '../domain/accounts/shared-secret.js';
import { parseFlags, required, UsageError } from './args.js';
import type { HomeserverConfig } from '../config/schema.js';
import { clientListener } from '../config/listeners.js';

/** The URL of the configured listener, as a local client reaches it. */
export function listenerUrl(config: HomeserverConfig): string {
  const listener = clientListener(config);
  if (listener.port === 0) throw new UsageError('the config listens on port 0 (any port); pass --url');
  let host = listener.bind_addresses[0] ?? '127.0.0.1';
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${listener.port}`;
}

async function call(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, init);
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${res.status} ${String(body.errcode ?? '')} ${String(body.error ?? '')}`.trim());
  return body;
}

/** Creates an account through the running server's shared-secret API, as register_new_matrix_user does. */
export async function registerUserCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, {
    config: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' }, admin: { type: 'boolean' }, url: { type: 'string' },
  });
  const config = loadConfig(required(flags.config, 'config'));
  const secret = config.registration_shared_secret;
  if (!secret) throw new UsageError('registration_shared_secret is not set in the config');
  const username = required(flags.user, 'user');
  const password = required(flags.password, 'password');
  const admin = flags.admin === true;
  const endpoint = `${flags.url ?? listenerUrl(config)}/_synapse/admin/v1/register`;
  const { nonce } = await call(endpoint);
  if (typeof nonce !== 'string') throw new Error('server gave no nonce');
  const mac = registrationMac(secret, nonce, username, password, admin);
  const result = await call(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ nonce, username, password, admin, mac }),
  });
  console.log(`axon: registered ${String(result.user_id)}${admin ? ' (admin)' : ''}`);
  return 0;
}
