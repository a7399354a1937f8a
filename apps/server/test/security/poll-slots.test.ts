import { describe, expect, it } from 'vitest';
import { PollSlots } from '../../src/domain/ratelimit/poll-slots.js';
import { MatrixError } from '../../src/errors.js';

describe('PollSlots: waiting polls per user, capped', () => {
  it('refuses the poll over the cap with 429 M_LIMIT_EXCEEDED, per user', () => {
    const slots = new PollSlots(3);
    const held = [slots.acquire('@a:x'), slots.acquire('@a:x'), slots.acquire('@a:x')];
    let err: unknown;
    try { slots.acquire('@a:x'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(MatrixError);
    expect((err as MatrixError).httpStatus).toBe(429);
    expect((err as MatrixError).errcode).toBe('M_LIMIT_EXCEEDED');
    // Other users are not affected.
    expect(() => slots.acquire('@b:x')).not.toThrow();
    held[0]!();
    expect(() => slots.acquire('@a:x')).not.toThrow();
  });

  it('release is idempotent and leaves nothing behind', () => {
    const slots = new PollSlots(2);
    const r = slots.acquire('@a:x');
    r();
    r();
    expect(slots.waiting('@a:x')).toBe(0);
    expect(slots.users).toBe(0);
    const a = slots.acquire('@a:x');
    const b = slots.acquire('@a:x');
    a(); b(); a();
    expect(slots.users).toBe(0);
  });
});
