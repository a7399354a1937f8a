import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The built logger (as the CLI tests run the built `axon`): stdout is a real pipe here.
const LOGGING = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/logging.js');

function run(script: string): string[] {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(LOGGING)};\n${script}`], { encoding: 'utf8', timeout: 20_000 });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg);
}

describe('the stdout log stream', { timeout: 30_000 }, () => {
  it('keeps the order of lines across event-loop turns, and writes a turn\'s lines before an immediate exit', () => {
    const msgs = run(`
      const log = createLogger('info');
      log.info('a1'); log.info('a2');
      setImmediate(() => { log.info('b1'); setTimeout(() => { log.info('c1'); log.info('c2'); process.exit(0); }, 20); });
    `);
    expect(msgs).toEqual(['a1', 'a2', 'b1', 'c1', 'c2']);
  });

  it('loses nothing of a burst larger than one write when the process exits in the same turn', () => {
    const msgs = run(`
      const log = createLogger('info');
      for (let i = 0; i < 5000; i++) log.info('m' + i);
      process.exit(0);
    `);
    expect(msgs).toHaveLength(5000);
    expect(msgs.every((m, i) => m === 'm' + i)).toBe(true);
  });

  it('writes what flush() is asked for', () => {
    const msgs = run(`
      const log = createLogger('info');
      log.info('x');
      log.flush(() => process.exit(0));
    `);
    expect(msgs).toEqual(['x']);
  });
});
