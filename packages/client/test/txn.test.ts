import { describe, expect, it, vi } from 'vitest';
import { makeTxnId } from '../src/index.js';

describe('makeTxnId', () => {
  it('should never repeat within a realm, even within one millisecond', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    try {
      const ids = Array.from({ length: 50_000 }, () => makeTxnId());
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      vi.useRealTimers();
    }
  });

  it('should differ across realms (processes, tabs) started in the same millisecond', async () => {
    const a = makeTxnId();
    vi.resetModules();
    const fresh = (await import('../src/txn.js')) as typeof import('../src/txn.js');
    const b = fresh.makeTxnId();
    const [, realmA] = a.split('.');
    const [, realmB] = b.split('.');
    expect(realmA).not.toBe(realmB);
    expect(realmA).toMatch(/^[0-9a-z]{14}$/);
  });

  it('should be safe in a URL path segment', () => {
    expect(makeTxnId()).toMatch(/^[0-9a-z]+\.[0-9a-z]+\.[0-9a-z]+$/);
  });
});
