/** Event and room identifiers in the forms Synapse uses. */
import { randomBytes } from 'node:crypto';

/** Returns n random bytes; injectable so tests can pin identifiers. */
export type RandomBytes = (n: number) => Uint8Array;

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `$<opaque url-safe random>:<server>`; 18 random bytes give 24 base64url characters. */
export function generateEventId(serverName: string, random: RandomBytes = randomBytes): string {
  return `$${Buffer.from(random(18)).toString('base64url')}:${serverName}`;
}

/** `!<18 letters>:<server>`, as Synapse's random_string(18). */
export function generateRoomId(serverName: string, random: RandomBytes = randomBytes): string {
  let out = '';
  while (out.length < 18) {
    for (const b of random(24)) {
      // 52 * 4 = 208: rejecting bytes >= 208 keeps every letter equally likely.
      if (b < 208 && out.length < 18) out += LETTERS[b % 52];
    }
  }
  return `!${out}:${serverName}`;
}
