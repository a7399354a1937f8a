import { randomInt } from 'node:crypto';
import { errors } from '../../errors.js';

// The historical Matrix user id grammar (lower case, as Synapse enforces on registration).
const LOCALPART = /^[a-z0-9._=\-/]+$/;
const MAX_USER_ID_LENGTH = 255;

export function userIdFor(localpart: string, serverName: string): string {
  return `@${localpart}:${serverName}`;
}

/** Throws M_INVALID_USERNAME unless `localpart` may be registered on this server. */
export function checkLocalpart(localpart: string, serverName: string): void {
  if (localpart.length === 0) throw errors.invalidUsername('User ID cannot be empty');
  if (!LOCALPART.test(localpart)) throw errors.invalidUsername('User ID can only contain characters a-z, 0-9, or \'=_-./\'');
  if (/^_/.test(localpart)) throw errors.invalidUsername('User ID may not begin with \'_\'');
  if (userIdFor(localpart, serverName).length > MAX_USER_ID_LENGTH) throw errors.invalidUsername('User ID may not be longer than 255 characters');
}

/**
 * The user id a login or admin request means: a full `@local:server` id (which must be on
 * this server) or a bare localpart. Null when it names another server or is malformed.
 */
export function resolveUserId(given: string, serverName: string): string | null {
  if (!given.startsWith('@')) return given.length > 0 && !given.includes(':') ? userIdFor(given.toLowerCase(), serverName) : null;
  const colon = given.indexOf(':');
  if (colon < 2) return null;
  const server = given.slice(colon + 1);
  return server === serverName ? userIdFor(given.slice(1, colon).toLowerCase(), serverName) : null;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** A localpart for a client that did not choose one. */
export function randomLocalpart(): string {
  let s = '';
  for (let i = 0; i < 12; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return `u${s}`;
}
