import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const NONCE_TTL_MS = 60_000;

/** Single-use nonces for shared-secret registration, kept in memory as Synapse does. */
export class NonceStore {
  private readonly nonces = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(): string {
    this.sweep();
    const nonce = randomBytes(16).toString('hex');
    this.nonces.set(nonce, this.now() + NONCE_TTL_MS);
    return nonce;
  }

  /** True once per issued, unexpired nonce. */
  consume(nonce: string): boolean {
    const expires = this.nonces.get(nonce);
    this.nonces.delete(nonce);
    return expires !== undefined && expires > this.now();
  }

  private sweep(): void {
    const now = this.now();
    for (const [nonce, expires] of this.nonces) if (expires <= now) this.nonces.delete(nonce);
  }
}

/** Synapse's MAC: hex HMAC-SHA1 over nonce\0user\0password\0admin|notadmin. */
export function registrationMac(secret: string, nonce: string, username: string, password: string, admin: boolean): string {
  return createHmac('sha1', secret)
    .update(nonce).update('\0').update(username).update('\0').update(password).update('\0')
    .update(admin ? 'admin' : 'notadmin')
    .digest('hex');
}

export function macMatches(expectedHex: string, givenHex: string): boolean {
  const a = Buffer.from(expectedHex, 'utf8');
  const b = Buffer.from(givenHex.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
