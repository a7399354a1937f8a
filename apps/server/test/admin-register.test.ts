import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, request, SHARED_SECRET, startServer, uniqueName, type TestServer } from './helpers/index.js';

const URL_PATH = '/_synapse/admin/v1/register';
let s: TestServer;
let noSecret: TestServer;
beforeAll(async () => {
  [s, noSecret] = await Promise.all([
    startServer({ config: { enable_registration: false } }),
    startServer({ config: { registration_shared_secret: undefined } }),
  ]);
});
afterAll(async () => {
  expect(s.specViolations()).toEqual([]);
  await Promise.all([s.close(), noSecret.close()]);
});

// Written out independently of the server's code, from Synapse's docs/admin_api/register_api.md.
function mac(nonce: string, user: string, password: string, admin: boolean, secret = SHARED_SECRET): string {
  return createHmac('sha1', secret).update(`${nonce}\0${user}\0${password}\0${admin ? 'admin' : 'notadmin'}`).digest('hex');
}

async function nonce(server: TestServer): Promise<string> {
  const res = await request<{ nonce: string }>(server.baseUrl, 'GET', URL_PATH);
  expect(res.status).toBe(200);
  return res.body.nonce;
}

describe('shared-secret registration', () => {
  it('registers (even with registration disabled), and the account logs in', async () => {
    const username = uniqueName('admin');
    const n = await nonce(s);
    const res = await request(s.baseUrl, 'POST', URL_PATH, { body: { nonce: n, username, password: 'pw', admin: true, mac: mac(n, username, 'pw', true) } });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe(`@${username}:localhost`);
    expect((await login(s.baseUrl, username, 'pw')).status).toBe(200);
    expect((await s.hs.context.storage.getUser(`@${username}:localhost`))?.admin).toBe(true);
  });

  it('non-admin by default', async () => {
    const username = uniqueName();
    const n = await nonce(s);
    const res = await request(s.baseUrl, 'POST', URL_PATH, { body: { nonce: n, username, password: 'pw', mac: mac(n, username, 'pw', false) } });
    expect(res.status).toBe(200);
    expect((await s.hs.context.storage.getUser(`@${username}:localhost`))?.admin).toBe(false);
  });

  it('a nonce works once; unknown nonces are refused', async () => {
    const n = await nonce(s);
    const first = uniqueName();
    expect((await request(s.baseUrl, 'POST', URL_PATH, { body: { nonce: n, username: first, password: 'p', mac: mac(n, first, 'p', false) } })).status).toBe(200);
    const second = uniqueName();
    const replay = await request(s.baseUrl, 'POST', URL_PATH, { body: { nonce: n, username: second, password: 'p', mac: mac(n, second, 'p', false) } });
    expect(replay.status).toBe(400);
    expect(replay.body.errcode).toBe('M_UNKNOWN');
  });

  it('403 for a wrong MAC (including admin flag tampering)', async () => {
    const username = uniqueName();
    const n1 = await nonce(s);
    const wrongSecret = await request(s.baseUrl, 'POST', URL_PATH, { body: { nonce: n1, username, password: 'p', mac: mac(n1, username, 'p', false, 'other') } });
    expect(wrongSecret.status).toBe(403);
    expect(wrongSecret.body.errcode).toBe('M_FORBIDDEN');
    const n2 = await nonce(s);
    const tampered = await request(s.baseUrl, 'POST', URL_PATH, { body: { nonce: n2, username, password: 'p', admin: true, mac: mac(n2, username, 'p', false) } });
    expect(tampered.status).toBe(403);
    expect(await s.hs.context.storage.getUser(`@${username}:localhost`)).toBeNull();
  });

  it('M_USER_IN_USE and M_INVALID_USERNAME', async () => {
    const username = uniqueName();
    for (const expected of [200, 400]) {
      const n = await nonce(s);
      const res = await request(s.baseUrl, 'POST', URL_PATH, { body: { nonce: n, username, password: 'p', mac: mac(n, username, 'p', false) } });
      expect(res.status).toBe(expected);
      if (expected === 400) expect(res.body.errcode).toBe('M_USER_IN_USE');
    }
    const n = await nonce(s);
    const bad = await request(s.baseUrl, 'POST', URL_PATH, { body: { nonce: n, username: 'Bad Name', password: 'p', mac: mac(n, 'Bad Name', 'p', false) } });
    expect(bad.body.errcode).toBe('M_INVALID_USERNAME');
  });

  it('is absent (404) without a configured secret', async () => {
    const get = await request(noSecret.baseUrl, 'GET', URL_PATH);
    expect(get.status).toBe(404);
    const post = await request(noSecret.baseUrl, 'POST', URL_PATH, { body: { nonce: 'n', username: 'u', password: 'p', mac: 'm' } });
    expect(post.status).toBe(404);
  });
});
