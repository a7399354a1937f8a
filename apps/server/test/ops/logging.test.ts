import { createHmac } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors } from '../../src/errors.js';
import { login, register, request, SHARED_SECRET, startServer, uniqueName, V1, V2, type LogLine, type TestServer } from '../helpers/index.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ config: { log_level: 'debug' } });
});
afterAll(async () => {
  expect(s.specViolations()).toEqual([]);
  await s.close();
});

const accessLines = (logs: LogLine[]) => logs.filter((l) => l.msg === 'request');

describe('logs', () => {
  it('never contain a token, password or secret used in a realistic session', async () => {
    const secrets: string[] = [SHARED_SECRET];
    // Registration and login through the v1 API.
    const alicePw = 'alice-Pa55word-v1';
    const alice = await register(s.baseUrl, uniqueName('alice'), alicePw);
    secrets.push(alice.accessToken, alicePw);
    const relog = await login(s.baseUrl, alice.userId, alicePw);
    expect(relog.status).toBe(200);
    const secondToken = relog.body.access_token as string;
    secrets.push(secondToken);
    // A failed login with a wrong password.
    const wrongPw = 'wrong-Pa55word-guess';
    secrets.push(wrongPw);
    expect((await login(s.baseUrl, alice.userId, wrongPw)).status).toBe(403);

    // The token in the query string (the seed's security definition) and as a Bearer header.
    const room = await request<{ room_id: string }>(s.baseUrl, 'POST', `${V1}/createRoom?access_token=${encodeURIComponent(alice.accessToken)}`, { body: {} });
    expect(room.status).toBe(200);
    const roomPath = `${V1}/rooms/${encodeURIComponent(room.body.room_id)}`;
    expect((await request(s.baseUrl, 'PUT', `${roomPath}/send/m.room.message/t1?access_token=${alice.accessToken}`, { body: { msgtype: 'm.text', body: 'hi' } })).status).toBe(200);
    expect((await request(s.baseUrl, 'GET', `${roomPath}/state`, { token: secondToken })).status).toBe(200);
    // A bad token in both places.
    const bogus = 'syt_bogus_token_that_must_not_leak';
    secrets.push(bogus);
    expect((await request(s.baseUrl, 'GET', `${roomPath}/state?access_token=${bogus}`)).status).toBe(401);
    expect((await request(s.baseUrl, 'GET', `${roomPath}/state`, { token: bogus })).status).toBe(401);

    // Password change (v2_alpha), then the new password logs in.
    const newPw = 'alice-N3w-password';
    secrets.push(newPw);
    expect((await request(s.baseUrl, 'POST', `${V2}/account/password`, { token: secondToken, body: { new_password: newPw } })).status).toBe(200);
    const third = await login(s.baseUrl, alice.userId, newPw);
    expect(third.status).toBe(200);
    secrets.push(third.body.access_token as string);

    // Shared-secret registration: the nonce, the HMAC and the new account's password and token.
    const nonceRes = await request<{ nonce: string }>(s.baseUrl, 'GET', '/_synapse/admin/v1/register');
    const username = uniqueName('ops');
    const opsPw = 'ops-Adm1n-password';
    const mac = createHmac('sha1', SHARED_SECRET).update(`${nonceRes.body.nonce}\0${username}\0${opsPw}\0admin`).digest('hex');
    const admin = await request<{ access_token: string }>(s.baseUrl, 'POST', '/_synapse/admin/v1/register', {
      body: { nonce: nonceRes.body.nonce, username, password: opsPw, admin: true, mac },
    });
    expect(admin.status).toBe(200);
    secrets.push(opsPw, mac, admin.body.access_token);
    // A malformed JSON body holding a password (parse errors quote the body).
    const leaky = 'in-a-broken-body-pw';
    secrets.push(leaky);
    expect((await request(s.baseUrl, 'POST', `${V1}/login`, { body: `{"type":"m.login.password","user":"x","password":"${leaky}"` })).status).toBe(400);
    // Logout with the token.
    expect((await request(s.baseUrl, 'POST', `${V1}/logout`, { token: admin.body.access_token })).status).toBe(200);

    const text = s.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(accessLines(s.logs).length).toBeGreaterThanOrEqual(14);
    for (const secret of secrets) expect(text, `a secret appears in the logs`).not.toContain(secret);
    expect(text).not.toContain('access_token=');
  });

  it('writes one access line per request: method, path without the query, status, duration, user, client', async () => {
    const bob = await register(s.baseUrl);
    const before = s.logs.length;
    const res = await request(s.baseUrl, 'POST', `${V1}/createRoom?access_token=${bob.accessToken}&foo=bar`, { body: {} });
    expect(res.status).toBe(200);
    const lines = accessLines(s.logs.slice(before));
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({
      level: 30, name: 'axon', method: 'POST', path: `${V1}/createRoom`, status: 200, user_id: bob.userId,
      client: '127.0.0.1', operation: 'createRoom',
    });
    expect(line.request_id).toMatch(/^POST-\d+$/);
    expect(typeof line.duration_ms).toBe('number');
    expect(typeof line.time).toBe('string');
  });

  it('does not log GET /health', async () => {
    const before = s.logs.length;
    const res = await fetch(`${s.baseUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK');
    await new Promise((r) => setTimeout(r, 20));
    expect(s.logs.slice(before)).toEqual([]);
  });

  it('puts the request id on every line of a request: the handler\'s, and a domain service\'s about it', async () => {
    const stubbed = await startServer({
      stubs: {
        login: async ({ log }) => {
          log.warn('handler line');
          throw errors.forbidden('nope');
        },
      },
    });
    try {
      const res = await request(stubbed.baseUrl, 'POST', `${V1}/login`, { body: { type: 'm.login.password', user: 'x', password: 'y' } });
      expect(res.status).toBe(403);
      await new Promise((r) => setTimeout(r, 20));
      const access = accessLines(stubbed.logs);
      expect(access).toHaveLength(1);
      const id = access[0]!.request_id;
      expect(stubbed.logs.find((l) => l.msg === 'handler line')?.request_id).toBe(id);
    } finally {
      await stubbed.close();
    }

    // A real domain line: an upload whose file has gone from the media store answers 404,
    // and the media service logs the missing file.
    const alice = await register(s.baseUrl, uniqueName('alice'));
    const up = await fetch(`${s.baseUrl}/_matrix/media/v1/upload`, {
      method: 'POST', headers: { Authorization: `Bearer ${alice.accessToken}`, 'Content-Type': 'text/plain' }, body: 'gone soon',
    });
    const mediaId = ((await up.json()) as { content_uri: string }).content_uri.split('/').pop()!;
    rmSync(path.join(s.config.media_store_path, 'local_content', mediaId.slice(0, 2), mediaId.slice(2, 4), mediaId.slice(4)));
    const before = s.logs.length;
    expect((await fetch(`${s.baseUrl}/_matrix/media/v1/download/${s.config.server_name}/${mediaId}`)).status).toBe(404);
    await new Promise((r) => setTimeout(r, 20));
    const lines = s.logs.slice(before);
    const download = accessLines(lines).find((l) => String(l.path).includes('/download/'));
    const domain = lines.find((l) => l.msg === 'media metadata without its file');
    expect(download?.request_id).toMatch(/^GET-\d+$/);
    expect(domain?.request_id).toBe(download?.request_id);
  });

  it('uses the configured level', async () => {
    const quiet = await startServer({ config: { log_level: 'warn' } });
    try {
      await request(quiet.baseUrl, 'GET', '/_matrix/client/versions');
      await new Promise((r) => setTimeout(r, 20));
      expect(accessLines(quiet.logs)).toEqual([]);
    } finally {
      await quiet.close();
    }
  });
});
