/**
 * PostgreSQL on the same machine, reached over its Unix socket (docs/operations.md): two
 * `axon start` processes configured with libpq's socket URL form serve, wake each other
 * and keep every connection they open (pool, LISTEN, notices, replication reads) on the
 * socket. Runs in the PostgreSQL project only, against a server whose socket is on this
 * machine (the throwaway cluster's always is).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startAxon, V1, writePostgresConfig, type RunningAxon } from '../helpers/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { createRoom, enc, events, follow, membership } from '../sync/util.js';

let db: TestDatabase;
let dir: string;
let sql: pg.Client;
let socketUrl: string | undefined;
const procs: RunningAxon[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  // where the server puts its socket, if that is on this machine
  const socketDir = (await sql.query<{ d: string }>("SELECT split_part(current_setting('unix_socket_directories'), ',', 1) AS d")).rows[0]!.d.trim();
  const port = (await sql.query<{ p: string }>("SELECT current_setting('port') AS p")).rows[0]!.p;
  if (socketDir && existsSync(path.join(socketDir, `.s.PGSQL.${port}`))) {
    const user = (await sql.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
    socketUrl = `postgres://${encodeURIComponent(user)}@/${db.name}?host=${encodeURIComponent(socketDir)}&port=${port}`;
  }
  if (!socketUrl) return;
  dir = mkdtempSync(path.join(tmpdir(), 'axon-socket-'));
  const config = writePostgresConfig(dir, socketUrl, 3);
  for (let i = 0; i < 2; i++) procs.push(await startAxon(config));
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await sql?.end();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('PostgreSQL over its Unix socket', () => {
  it('two processes serve and wake each other, with every connection on the socket', async ({ skip }) => {
    if (!socketUrl) skip('the PostgreSQL server\'s Unix socket is not on this machine (DATABASE_URL names another host)');
    const [a, b] = procs.map((p) => p.url) as [string, string];
    const alice = await register(a);
    const bob = await register(b);
    const roomId = await createRoom(b, alice, { preset: 'public_chat' });
    expect(await membership(a, bob, roomId, 'join')).toBe(200);
    const from = (await events(b, bob, { timeout: 0 })).body.end;
    const poll = follow(b, bob, from, (all) => all.some((e) => e['type'] === 'm.room.message'), 10_000);
    await new Promise((r) => setTimeout(r, 200));
    const sent = await request<{ event_id: string }>(a, 'PUT', `${V1}/rooms/${enc(roomId)}/send/m.room.message/sock1`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: 'over the socket' } });
    expect(sent.status).toBe(200);
    const { all } = await poll;
    expect(all.filter((e) => e['type'] === 'm.room.message').map((e) => e['event_id'])).toEqual([sent.body.event_id]);

    // A Unix-socket backend has no client address (pg_stat_activity.client_addr is NULL and
    // client_port -1); had the URL's host been ignored, these would be TCP on 127.0.0.1.
    const rows = (await sql.query<{ application_name: string; client_port: number | null }>(
      "SELECT application_name, client_port FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'axon%'", [db.name])).rows;
    const names = new Set(rows.map((r) => r.application_name));
    for (const name of ['axon', 'axon-listen', 'axon-notify', 'axon-replication']) expect(names).toContain(name);
    expect(rows.filter((r) => r.client_port !== -1)).toEqual([]);
  }, 30_000);
});
