import { describe, expect, it, vi } from 'vitest';
import { batchedWriter, createLogger, writeAccessLine, type AccessLine } from './logging.js';

function capture(level: 'info' | 'warn' = 'info') {
  const lines: string[] = [];
  // pino writes to any object with write(); this one keeps each line
  const logger = createLogger(level, { write: (s: string) => { lines.push(s); } } as never);
  return { logger, lines };
}

const cases: AccessLine[] = [
  { request_id: 'GET-1', method: 'GET', path: '/_matrix/client/api/v1/events', status: 200, duration_ms: 1.234, user_id: '@a:b', client: '127.0.0.1', operation: 'getEvents', aborted: false },
  { request_id: 'PUT-2', method: 'PUT', path: '/rooms/!r:x/send/m.room.message/"q\\\u2028\u0001é', status: 403, duration_ms: 0, user_id: undefined, client: '::1', operation: undefined, aborted: true },
];

describe('writeAccessLine', () => {
  it('writes what logger.info(fields, "request") writes, key for key and in the same order', () => {
    for (const c of cases) {
      const fast = capture();
      writeAccessLine(fast.logger, c);
      const slow = capture();
      const { aborted, ...rest } = c;
      slow.logger.info({ ...rest, ...(aborted ? { aborted: true } : {}) }, 'request');
      expect(fast.lines).toHaveLength(1);
      const strip = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');
      expect(strip(fast.lines[0]!)).toBe(strip(slow.lines[0]!));
      expect(JSON.parse(fast.lines[0]!).path).toBe(c.path);
      expect(fast.lines[0]!.endsWith('}\n')).toBe(true);
    }
  });

  it('writes an ISO time, and nothing when info is below the level', () => {
    const info = capture();
    writeAccessLine(info.logger, cases[0]!);
    expect(Date.parse(JSON.parse(info.lines[0]!).time)).toBeGreaterThan(Date.now() - 60_000);
    const quiet = capture('warn');
    writeAccessLine(quiet.logger, cases[0]!);
    expect(quiet.lines).toEqual([]);
  });
});

describe('batchedWriter', () => {
  function setup(intervalMs = 20, maxChars = 100) {
    const writes: string[] = [];
    return { writes, lines: batchedWriter({ write: (text: string) => writes.push(text) }, intervalMs, maxChars) };
  }

  it('joins the lines of one interval into one write, in order, and only once the interval is over', async () => {
    vi.useFakeTimers();
    try {
      const { writes, lines } = setup();
      lines.write('a\n');
      await vi.advanceTimersByTimeAsync(10);
      lines.write('b\n');
      lines.write('c\n');
      expect(writes).toEqual([]);
      await vi.advanceTimersByTimeAsync(10);
      expect(writes).toEqual(['a\nb\nc\n']);
      lines.write('d\n');
      await vi.advanceTimersByTimeAsync(19);
      expect(writes).toEqual(['a\nb\nc\n']);
      await vi.advanceTimersByTimeAsync(1);
      expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes at once when maxChars are waiting, and on drain', async () => {
    vi.useFakeTimers();
    try {
      const { writes, lines } = setup(20, 10);
      lines.write('12345');
      lines.write('67890');
      expect(writes).toEqual(['1234567890']);
      lines.write('x');
      lines.drain();
      expect(writes).toEqual(['1234567890', 'x']);
      lines.drain();
      expect(writes).toEqual(['1234567890', 'x']);
      // the timer of 'x' went with its write: a line 10 ms later waits its own 20 ms
      await vi.advanceTimersByTimeAsync(10);
      lines.write('y');
      await vi.advanceTimersByTimeAsync(15);
      expect(writes).toEqual(['1234567890', 'x']);
      await vi.advanceTimersByTimeAsync(5);
      expect(writes).toEqual(['1234567890', 'x', 'y']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not keep the process alive while lines wait', () => {
    const timers: NodeJS.Timeout[] = [];
    const real = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const t = real(fn, ms);
      timers.push(t);
      return t;
    }) as typeof setTimeout);
    try {
      const { lines } = setup(60_000);
      lines.write('a');
      expect(timers).toHaveLength(1);
      expect(timers[0]!.hasRef()).toBe(false);
      lines.drain();
    } finally {
      spy.mockRestore();
    }
  });
});
