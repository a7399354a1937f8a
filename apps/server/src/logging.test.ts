import { describe, expect, it } from 'vitest';
import { createLogger, writeAccessLine, type AccessLine } from './logging.js';

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
