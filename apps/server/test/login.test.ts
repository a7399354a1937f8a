import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, queryDb, register, request, startServer, V1, V2, type TestServer } from './helpers/index.js';

let s: TestServer;
beforeAll(async () => { s = await startServer(); });
afterAll(async () => {
  expect(s.specViolations()).toEqual([]);
  await s.close();
});

const localpart = (userId: string) => userId.slice(1).split(':')[0]!;

describe('/login and /logout', () => {
  it('GET /login lists m.login.password', async () => {
    const res = await request(s.baseUrl, 'GET', `${V1}/login`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ flows: [{ type: 'm.login.password' }] });
  });

  it('logs in by localpart or full user id, each time with a new token', async () => {
    const a = await register(s.baseUrl);
    const byLocal = await login(s.baseUrl, localpart(a.userId), a.password);
    const byFull = await login(s.baseUrl, a.userId, a.password);
    expect(byLocal.status).toBe(200);
    expect(byFull.status).toBe(200);
    expect(byLocal.body.user_id).toBe(a.userId);
    expect(byFull.body.user_id).toBe(a.userId);
    expect(new Set([a.accessToken, byLocal.body.access_token, byFull.body.access_token]).size).toBe(3);
  });

  it('403 M_FORBIDDEN for a wrong password, unknown user or another server', async () => {
    const a = await register(s.baseUrl);
    for (const [user, password] of [[a.userId, 'wrong'], ['nosuchuser', 'x'], [`@${localpart(a.userId)}:elsewhere`, a.password]] as const) {
      const res = await login(s.baseUrl, user, password);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
    }
  });

  it('400 for an unknown login type or a missing field', async () => {
    const unknown = await request(s.baseUrl, 'POST', `${V1}/login`, { body: { type: 'm.login.foo', user: 'a', password: 'b' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errcode).toBe('M_UNKNOWN');
    const noType = await request(s.baseUrl, 'POST', `${V1}/login`, { body: { user: 'a', password: 'b' } });
    expect(noType.body.errcode).toBe('M_MISSING_PARAM');
    const noPassword = await request(s.baseUrl, 'POST', `${V1}/login`, { body: { type: 'm.login.password', user: 'a' } });
    expect(noPassword.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('logout ends the token: 401 M_UNKNOWN_TOKEN with soft_logout false afterwards', async () => {
    const a = await register(s.baseUrl);
    expect((await request(s.baseUrl, 'POST', `${V1}/logout`, { token: a.accessToken })).status).toBe(200);
    const again = await request(s.baseUrl, 'POST', `${V1}/logout`, { token: a.accessToken });
    expect(again.status).toBe(401);
    expect(again.body).toEqual({ errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token passed.', soft_logout: false });
  });
});

describe('access token transport', () => {
  it('accepts ?access_token= and Authorization: Bearer', async () => {
    const a = await register(s.baseUrl);
    const b = await login(s.baseUrl, a.userId, a.password);
    const viaQuery = await request(s.baseUrl, 'POST', `${V1}/logout?access_token=${encodeURIComponent(a.accessToken)}`);
    expect(viaQuery.status).toBe(200);
    const viaHeader = await request(s.baseUrl, 'POST', `${V1}/logout`, { token: b.body.access_token as string });
    expect(viaHeader.status).toBe(200);
  });

  it('401 M_MISSING_TOKEN when missing, both given, or not Bearer', async () => {
    const a = await register(s.baseUrl);
    const cases = [
      request(s.baseUrl, 'POST', `${V1}/logout`),
      request(s.baseUrl, 'POST', `${V1}/logout?access_token=${a.accessToken}`, { token: a.accessToken }),
      request(s.baseUrl, 'POST', `${V1}/logout`, { headers: { Authorization: `Basic ${a.accessToken}` } }),
      request(s.baseUrl, 'POST', `${V1}/logout?access_token=${a.accessToken}&access_token=${a.accessToken}`),
    ];
    for (const res of await Promise.all(cases)) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ errcode: 'M_MISSING_TOKEN', error: 'Missing access token' });
    }
    // None of those consumed the token.
    expect((await request(s.baseUrl, 'POST', `${V1}/logout`, { token: a.accessToken })).status).toBe(200);
  });

  it('401 M_UNKNOWN_TOKEN for a token never issued', async () => {
    const res = await request(s.baseUrl, 'POST', `${V1}/logout?access_token=syt_bogus`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('stores only token hashes and scrypt password hashes', async () => {
    const a = await register(s.baseUrl);
    const tokens = await queryDb<{ token_hash: string }>(s, 'SELECT token_hash FROM access_tokens WHERE user_id = ?', [a.userId]);
    expect(tokens.length).toBeGreaterThan(0);
    for (const t of tokens) expect(t.token_hash).not.toContain(a.accessToken);
    const [user] = await queryDb<{ password_hash: string }>(s, 'SELECT password_hash FROM users WHERE user_id = ?', [a.userId]);
    expect(user!.password_hash).toMatch(/^scrypt\$/);
    expect(user!.password_hash).not.toContain(a.password);
    expect(JSON.stringify(s.logs)).not.toContain(a.accessToken);
  });
});

describe('POST /_matrix/client/v2_alpha/account/password', () => {
  it('changes the password and logs out the other sessions only', async () => {
    const a = await register(s.baseUrl);
    const other = await login(s.baseUrl, a.userId, a.password);
    const res = await request(s.baseUrl, 'POST', `${V2}/account/password`, { token: a.accessToken, body: { new_password: 'new pw' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await login(s.baseUrl, a.userId, a.password)).status).toBe(403);
    expect((await login(s.baseUrl, a.userId, 'new pw')).status).toBe(200);
    const otherLogout = await request(s.baseUrl, 'POST', `${V1}/logout`, { token: other.body.access_token as string });
    expect(otherLogout.body.errcode).toBe('M_UNKNOWN_TOKEN');
    expect((await request(s.baseUrl, 'POST', `${V1}/logout`, { token: a.accessToken })).status).toBe(200);
  });

  it('accepts an auth object, and rejects missing tokens and bodies', async () => {
    const a = await register(s.baseUrl);
    const withAuth = await request(s.baseUrl, 'POST', `${V2}/account/password`, {
      token: a.accessToken, body: { new_password: 'x2', auth: { type: 'm.login.password', session: 'abc' } },
    });
    expect(withAuth.status).toBe(200);
    const noToken = await request(s.baseUrl, 'POST', `${V2}/account/password`, { body: { new_password: 'x' } });
    expect(noToken.status).toBe(401);
    expect(noToken.body.errcode).toBe('M_MISSING_TOKEN');
    const noField = await request(s.baseUrl, 'POST', `${V2}/account/password`, { token: a.accessToken, body: {} });
    expect(noField.status).toBe(400);
    expect(noField.body.errcode).toBe('M_MISSING_PARAM');
  });
});
