import { randomBytes } from 'node:crypto';

const SESSION_TTL_MS = 10 * 60_000;

export const REGISTRATION_FLOWS = [{ stages: ['m.login.dummy'] }] as const;

/** User-interactive auth sessions for v2 registration; only `m.login.dummy` exists. */
export class UiaSessions {
  private readonly sessions = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  start(): string {
    const now = this.now();
    for (const [id, expires] of this.sessions) if (expires <= now) this.sessions.delete(id);
    const id = randomBytes(18).toString('base64url');
    this.sessions.set(id, now + SESSION_TTL_MS);
    return id;
  }

  /** Ends the session if it is live; false for unknown or expired sessions. */
  finish(id: string): boolean {
    const expires = this.sessions.get(id);
    this.sessions.delete(id);
    return expires !== undefined && expires > this.now();
  }
}
