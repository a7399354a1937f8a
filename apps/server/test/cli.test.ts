import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, login, request, runAxon, startAxon, V1 } from './helpers/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'axon-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each test spawns several Node processes (~0.5 s each, more on a busy 2-core machine).
describe('axon command', { timeout: 30_000 }, () => {
  it('generate-config, start, register-user, reset-password, SIGTERM', async () => {
    const config = path.join(dir, 'hs.yaml');
    const port = await freePort();
    const gen = await runAxon(['generate-config', '--server-name', 'cli.test', '--config-path', config, '--data-dir', path.join(dir, 'data'), '--port', String(port)]);
    expect(gen.code).toBe(0);
    expect(readFileSync(config, 'utf8')).toContain('server_name: cli.test');
    // A second run must not overwrite the secrets.
    expect((await runAxon(['generate-config', '--server-name', 'x', '--config-path', config])).code).toBe(1);

    const hs = await startAxon(config);
    try {
      expect(hs.url).toBe(`http://127.0.0.1:${port}`);
      const reg = await runAxon(['register-user', '--config', config, '--user', 'ops', '--password', 'first pw', '--admin']);
      expect(reg.stderr).toBe('');
      expect(reg.code).toBe(0);
      expect(reg.stdout).toContain('@ops:cli.test');
      expect((await login(hs.url, 'ops', 'first pw')).status).toBe(200);
      // Registration is off in the generated config: only the shared secret works.
      const open = await request(hs.url, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user: 'x', password: 'y' } });
      expect(open.status).toBe(403);

      const reset = await runAxon(['reset-password', '--config', config, '--user', 'ops', '--password', 'second pw']);
      expect(reset.code).toBe(0);
      expect((await login(hs.url, 'ops', 'first pw')).status).toBe(403);
      expect((await login(hs.url, 'ops', 'second pw')).status).toBe(200);
      expect((await runAxon(['reset-password', '--config', config, '--user', 'ghost', '--password', 'x'])).code).not.toBe(0);
      // Synapse's 512-character limit applies to the operator's reset too (refused before the database is opened).
      const tooLong = await runAxon(['reset-password', '--config', config, '--user', 'ops', '--password', 'x'.repeat(513)]);
      expect(tooLong.code).toBe(1);
      expect(tooLong.stderr).toContain('longer than 512 characters');
      // register-user goes through the shared-secret API, which refuses it with Synapse's answer.
      const longReg = await runAxon(['register-user', '--config', config, '--user', 'ops2', '--password', 'x'.repeat(513)]);
      expect(longReg.code).not.toBe(0);
      expect(longReg.stderr).toContain('400 M_UNKNOWN Invalid password');
      expect(hs.lines.join('\n')).not.toContain('second pw');
    } finally {
      expect(await hs.stop()).toBe(0);
    }
  });

  it('answers an in-flight request before exiting on SIGTERM', async () => {
    const config = path.join(dir, 'inflight.yaml');
    expect((await runAxon(['generate-config', '--server-name', 'localhost', '--config-path', config, '--port', '0', '--enable-registration'])).code).toBe(0);
    const hs = await startAxon(config);
    // Registration hashes a password (tens of ms), so it is still running at the signal.
    const pending = request(hs.url, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user: 'late', password: 'pw' } });
    await new Promise((r) => setTimeout(r, 5));
    const code = await hs.stop();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(code).toBe(0);
    expect(hs.lines.some((l) => l.includes('"stopped"'))).toBe(true);
  });

  it('start exits non-zero naming the bad key', async () => {
    const config = path.join(dir, 'bad.yaml');
    writeFileSync(config, 'server_name: x\nlisteners: [{port: "nope"}]\ndatabase: {name: sqlite3, args: {database: x.db}}\n');
    const res = await runAxon(['start', '--config', config]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('listeners[0].port');
  });

  it('unknown commands and missing flags are usage errors', async () => {
    expect((await runAxon(['frobnicate'])).code).toBe(2);
    const missing = await runAxon(['generate-config', '--config-path', path.join(dir, 'n.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--server-name');
  });
});
