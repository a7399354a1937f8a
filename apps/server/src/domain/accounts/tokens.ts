import { createHash, randomBytes, randomInt } from 'node:crypto';

/** Only this hash is stored, so a copy of the database holds no usable tokens. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new access token in Synapse's `syt_<localpart>_<random>` style. */
export function newAccessToken(localpart: string): string {
  return `syt_${Buffer.from(localpart).toString('base64url')}_${randomBytes(24).toString('base64url')}`;
}

export function newDeviceId(): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += String.fromCharCode(65 + randomInt(26));
  return s;
}
