import { MatrixError } from '../../errors.js';

/** Synapse has no such cap; this is Axon's (docs/security.md). */
export const DEFAULT_MAX_POLLS_PER_USER = 20;

/**
 * Caps the long-polls (GET /events) one user may have waiting at once, so one account
 * cannot park thousands of requests, timers and sockets. For the sync layer to call:
 *
 *   const release = slots.acquire(userId);   // throws 429 M_LIMIT_EXCEEDED when full
 *   try { ...wait... } finally { release(); }
 *
 * `release` is idempotent, so it can sit in both a finally and an abort handler.
 */
export class PollSlots {
  private readonly inUse = new Map<string, number>();

  constructor(readonly maxPerUser: number = DEFAULT_MAX_POLLS_PER_USER) {}

  acquire(userId: string): () => void {
    const n = this.inUse.get(userId) ?? 0;
    if (n >= this.maxPerUser) {
      throw new MatrixError(429, 'M_LIMIT_EXCEEDED', `Too many concurrent requests to /events (max ${this.maxPerUser})`, { retry_after_ms: 1000 });
    }
    this.inUse.set(userId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inUse.get(userId) ?? 1) - 1;
      if (left <= 0) this.inUse.delete(userId);
      else this.inUse.set(userId, left);
    };
  }

  /** Polls waiting for a user (0 when none): for tests and metrics. */
  waiting(userId: string): number {
    return this.inUse.get(userId) ?? 0;
  }

  /** Users with at least one waiting poll. */
  get users(): number {
    return this.inUse.size;
  }
}
