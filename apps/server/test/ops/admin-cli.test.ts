import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { login, register, request, runAxon, startAxon, V1 } from '../helpers/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'axon-ops-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A config file like generate-config's (written directly: a process less), with registration open and the limits raised. */
async function makeConfig(name: string, dataDir: string): Promise<string> {
  const config = path.join(dir, `${name}.yaml`);
  const raised = '{per_second: 1000000, burst_count: 1000000}';
  writeFileSync(config, [
    'server_name: ops.test',
    'listeners: [{port: 0, bind_addresses: [127.0.0.1]}]',
    `database: {name: sqlite3, args: {database: ${JSON.stringify(path.join(dataDir, 'homeserver.db'))}}}`,
    'registration_shared_secret: ops-test-secret',
    'enable_registration: true',
    `rc_message: ${raised}`, `rc_login: ${raised}`, `rc_registration: ${raised}`,
    '',
  ].join('\n'));
  return config;
}

// Each test spawns several Node processes (~0.5 s each, more on a busy 2-core machine).
describe('admin commands', { timeout: 120_000 }, () => {
  it('list-users and deactivate-user: tokens revoked, login refused', async () => {
    const config = await makeConfig('users', path.join(dir, 'users-data'));
    const hs = await startAxon(config);
    try {
      const alice = await register(hs.url, 'alice', 'alice pw');
      const bob = await register(hs.url, 'bob', 'bob pw');
      expect((await runAxon(['register-user', '--config', config, '--user', 'root', '--password', 'root pw', '--admin', '--url', hs.url])).code).toBe(0);

      const list = await runAxon(['list-users', '--config', config]);
      expect(list.code).toBe(0);
      const rows = list.stdout.trim().split('\n');
      expect(rows[0]).toMatch(/^USER\s+ADMIN\s+DEACTIVATED\s+CREATED$/);
      expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 3))).toEqual([
        ['@alice:ops.test', 'no', 'no'], ['@bob:ops.test', 'no', 'no'], ['@root:ops.test', 'yes', 'no'],
      ]);

      // the server now knows her token (it keeps checked tokens in memory)
      expect((await request(hs.url, 'POST', `${V1}/createRoom`, { token: alice.accessToken, body: {} })).status).toBe(200);
      const off = await runAxon(['deactivate-user', '--config', config, '--user', 'alice']);
      expect(off.stderr).toBe('');
      expect(off.code).toBe(0);
      expect(off.stdout).toContain('@alice:ops.test');
      // Her token stopped working at once, on the running server; she cannot log in again.
      const res = await request(hs.url, 'POST', `${V1}/createRoom`, { token: alice.accessToken, body: {} });
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
      expect((await login(hs.url, 'alice', 'alice pw')).status).toBe(403);
      // Others are untouched.
      expect((await request(hs.url, 'POST', `${V1}/createRoom`, { token: bob.accessToken, body: {} })).status).toBe(200);

      const json = await runAxon(['list-users', '--config', config, '--json']);
      const users = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { user_id: string; admin: boolean; deactivated: boolean });
      expect(users.find((u) => u.user_id === '@alice:ops.test')?.deactivated).toBe(true);
      expect(users.find((u) => u.user_id === '@root:ops.test')?.admin).toBe(true);

      const ghost = await runAxon(['deactivate-user', '--config', config, '--user', 'ghost']);
      expect(ghost.code).toBe(1);
      expect(ghost.stderr).toContain('Unknown user ghost');
      expect((await runAxon(['deactivate-user', '--config', config])).code).toBe(2);
    } finally {
      expect(await hs.stop()).toBe(0);
    }
  });

  it('backup while the server runs, then the documented restore procedure', async () => {
    const dataDir = path.join(dir, 'live-data');
    const config = await makeConfig('live', dataDir);
    const backupFile = path.join(dir, 'backups', 'homeserver-backup.db');
    const hs = await startAxon(config);
    let roomId: string;
    try {
      const alice = await register(hs.url, 'alice', 'alice pw');
      const room = await request<{ room_id: string }>(hs.url, 'POST', `${V1}/createRoom`, { token: alice.accessToken, body: { name: 'before backup' } });
      expect(room.status).toBe(200);
      roomId = room.body.room_id;
      // Writes keep going during the backup: it must still be one consistent snapshot.
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          await request(hs.url, 'PUT', `${V1}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/w${i}`, { token: alice.accessToken, body: { msgtype: 'm.text', body: `${i}` } });
        }
      })();
      const backup = await runAxon(['backup', '--config', config, '--to', backupFile]);
      writing = false;
      await writer;
      expect(backup.stderr).toBe('');
      expect(backup.code).toBe(0);
      expect(backup.stdout).toContain(backupFile);
      expect(existsSync(backupFile)).toBe(true);
      expect(existsSync(`${backupFile}.partial`)).toBe(false);
      // Never overwrites an existing backup.
      expect((await runAxon(['backup', '--config', config, '--to', backupFile])).code).toBe(2);
      // Written after the backup: not in it.
      expect((await register(hs.url, 'late', 'late pw')).userId).toBe('@late:ops.test');
    } finally {
      expect(await hs.stop()).toBe(0);
    }

    // Restore (docs/operations.md): with the server stopped, copy the backup over
    // homeserver.db in the data directory, remove any -wal and -shm files, start.
    const restoredDir = path.join(dir, 'restored-data');
    const restoredConfig = await makeConfig('restored', restoredDir);
    mkdirSync(restoredDir, { recursive: true });
    const db = path.join(restoredDir, 'homeserver.db');
    copyFileSync(backupFile, db);
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    const restored = await startAxon(restoredConfig);
    try {
      const again = await login(restored.url, 'alice', 'alice pw');
      expect(again.status).toBe(200);
      const token = again.body.access_token as string;
      const name = await request(restored.url, 'GET', `${V1}/rooms/${encodeURIComponent(roomId!)}/state/m.room.name`, { token });
      expect(name.status).toBe(200);
      expect(name.body).toEqual({ name: 'before backup' });
      expect((await login(restored.url, 'late', 'late pw')).status).toBe(403);
      // The restored server goes on writing.
      expect((await request(restored.url, 'PUT', `${V1}/rooms/${encodeURIComponent(roomId!)}/send/m.room.message/after`, { token, body: { msgtype: 'm.text', body: 'after' } })).status).toBe(200);
    } finally {
      expect(await restored.stop()).toBe(0);
    }
  });

  it('backup refuses PostgreSQL and a missing database', async () => {
    const pg = path.join(dir, 'pg.yaml');
    writeFileSync(pg, 'server_name: x\nlisteners: [{port: 0}]\ndatabase: {name: postgres, args: {url: "postgres://localhost/x"}}\n');
    const res = await runAxon(['backup', '--config', pg, '--to', path.join(dir, 'x.db')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('pg_dump');
    const none = path.join(dir, 'none.yaml');
    writeFileSync(none, `server_name: x\nlisteners: [{port: 0}]\ndatabase: {name: sqlite3, args: {database: ${path.join(dir, 'nope', 'h.db')}}}\n`);
    const missing = await runAxon(['backup', '--config', none, '--to', path.join(dir, 'y.db')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no database');
  });
});
