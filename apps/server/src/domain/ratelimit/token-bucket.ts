import type { RateLimitConfig } from '../../config/schema.js';

export type RateLimitOutcome = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Synapse's rate limiter as a token bucket per key: a key may act `burst_count` times at
 * once, and gains back one action every 1/`per_second` seconds. Full buckets are dropped,
 * so memory follows the keys active in the last burst_count/per_second seconds.
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweepMs: number;

  constructor(private readonly config: RateLimitConfig, private readonly now: () => number = Date.now) {
    this.lastSweepMs = now();
  }

  /** Whether `key` may act now; with `update` (the default) an allowed action uses a token. */
  take(key: string, update = true): RateLimitOutcome {
    const now = this.now();
    this.sweep(now);
    const bucket = this.refill(key, now);
    if (bucket.tokens >= 1) {
      if (update) {
        bucket.tokens -= 1;
        this.buckets.set(key, bucket);
      }
      return { allowed: true };
    }
    return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(((1 - bucket.tokens) / this.config.per_second) * 1000)) };
  }

  /** Uses a token whether or not one is left (for actions counted after they happened). */
  record(key: string): void {
    const now = this.now();
    const bucket = this.refill(key, now);
    bucket.tokens = Math.max(bucket.tokens - 1, -this.config.burst_count);
    this.buckets.set(key, bucket);
  }

  /** Keys currently tracked (tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(key: string, now: number): Bucket {
    const { per_second, burst_count } = this.config;
    const b = this.buckets.get(key);
    if (!b) return { tokens: burst_count, updatedMs: now };
    b.tokens = Math.min(burst_count, b.tokens + ((now - b.updatedMs) / 1000) * per_second);
    b.updatedMs = now;
    return b;
  }

  private sweep(now: number): void {
    if (now - this.lastSweepMs < 60_000) return;
    this.lastSweepMs = now;
    const { per_second, burst_count } = this.config;
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.updatedMs) / 1000) * per_second >= burst_count) this.buckets.delete(key);
    }
  }
}
