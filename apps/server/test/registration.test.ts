import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, register, request, startServer, uniqueName, V1, V2, type TestServer } from './helpers/index.js';

let s: TestServer;
let closed: TestServer;
beforeAll(async () => {
  [s, closed] = await Promise.all([startServer(), startServer({ config: { enable_registration: false } })]);
});
afterAll(async () => {
  expect(s.specViolations()).toEqual([]);
  expect(closed.specViolations()).toEqual([]);
  await Promise.all([s.close(), closed.close()]);
});

describe('legacy v1 /register', () => {
  it('GET lists the password flow', async () => {
    const res = await request(s.baseUrl, 'GET', `${V1}/register`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ flows: [{ type: 'm.login.password' }] });
  });

  it('registers and logs in, and the token works', async () => {
    const user = uniqueName();
    const res = await request(s.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user, password: 'pw1' } });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe(`@${user}:localhost`);
    expect(res.body.home_server).toBe('localhost');
    expect(typeof res.body.access_token).toBe('string');
    const out = await request(s.baseUrl, 'POST', `${V1}/logout`, { token: res.body.access_token as string });
    expect(out.status).toBe(200);
    expect((await login(s.baseUrl, user, 'pw1')).status).toBe(200);
  });

  it('picks a localpart when none is given', async () => {
    const res = await request(s.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', password: 'pw' } });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toMatch(/^@[a-z0-9]+:localhost$/);
  });

  it('ignores unknown fields in the body', async () => {
    const res = await request(s.baseUrl, 'POST', `${V1}/register`, {
      body: { type: 'm.login.password', user: uniqueName(), password: 'pw', extra: { anything: true } },
    });
    expect(res.status).toBe(200);
  });

  it('M_USER_IN_USE for a taken name', async () => {
    const a = await register(s.baseUrl);
    const localpart = a.userId.slice(1).split(':')[0];
    const res = await request(s.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user: localpart, password: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_USER_IN_USE');
  });

  it('M_USER_IN_USE for exactly one of two concurrent registrations', async () => {
    const user = uniqueName('race');
    const body = { type: 'm.login.password', user, password: 'x' };
    const results = await Promise.all([1, 2].map(() => request(s.baseUrl, 'POST', `${V1}/register`, { body })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });

  it.each(['UpperCase', 'has space', 'émile', '_reserved', 'a:b', 'x'.repeat(260)])('M_INVALID_USERNAME for %j', async (user) => {
    const res = await request(s.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user, password: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_USERNAME');
  });

  it('M_FORBIDDEN when registration is disabled', async () => {
    const res = await request(closed.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user: 'nobody', password: 'x' } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Registration has been disabled' });
  });

  it('M_MISSING_PARAM, M_INVALID_PARAM, M_BAD_JSON, M_NOT_JSON for bad bodies', async () => {
    const post = (body: unknown) => request(s.baseUrl, 'POST', `${V1}/register`, { body });
    expect((await post({ type: 'm.login.password', user: 'abc' })).body.errcode).toBe('M_MISSING_PARAM');
    expect((await post({ type: 'm.login.password', user: 'abc', password: 5 })).body.errcode).toBe('M_INVALID_PARAM');
    expect((await post({ type: 'm.login.bogus', user: 'abc', password: 'x' })).body.errcode).toBe('M_INVALID_PARAM');
    expect((await post([1, 2])).body.errcode).toBe('M_BAD_JSON');
    expect((await post({ user: 5 })).body.errcode).toBe('M_BAD_JSON');
    for (const body of ['{not json', '', 'null x']) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_NOT_JSON');
    }
  });

  it('M_TOO_LARGE (413) for a body over max_request_body_size', async () => {
    const res = await request(s.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', password: 'x'.repeat(1024 * 1024 + 10) } });
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
  });
});

describe('v2_alpha /register with user-interactive auth', () => {
  const url = `${V2}/register`;

  it('401 with flows and a session, then m.login.dummy completes it', async () => {
    const username = uniqueName();
    const first = await request(s.baseUrl, 'POST', url, { body: { username, password: 'pw' } });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);
    expect(first.body.params).toEqual({});
    expect(typeof first.body.session).toBe('string');
    const second = await request(s.baseUrl, 'POST', url, {
      body: { username, password: 'pw', auth: { type: 'm.login.dummy', session: first.body.session } },
    });
    expect(second.status).toBe(200);
    expect(second.body.user_id).toBe(`@${username}:localhost`);
    expect((await login(s.baseUrl, username, 'pw')).status).toBe(200);
    // A session works once.
    const again = await request(s.baseUrl, 'POST', url, {
      body: { username: uniqueName(), password: 'pw', auth: { type: 'm.login.dummy', session: first.body.session } },
    });
    expect(again.status).toBe(401);
  });

  it('401 for an unknown session or stage', async () => {
    const bad = await request(s.baseUrl, 'POST', url, { body: { username: uniqueName(), password: 'pw', auth: { type: 'm.login.dummy', session: 'nope' } } });
    expect(bad.status).toBe(401);
    expect(bad.body.errcode).toBe('M_UNKNOWN');
    const stage = await request(s.baseUrl, 'POST', url, { body: { password: 'pw', auth: { type: 'm.login.recaptcha' } } });
    expect(stage.status).toBe(401);
  });

  it('M_USER_IN_USE and M_INVALID_USERNAME before auth starts', async () => {
    const a = await register(s.baseUrl);
    const taken = await request(s.baseUrl, 'POST', url, { body: { username: a.userId.slice(1).split(':')[0], password: 'pw' } });
    expect(taken.status).toBe(400);
    expect(taken.body.errcode).toBe('M_USER_IN_USE');
    const invalid = await request(s.baseUrl, 'POST', url, { body: { username: 'Not Valid', password: 'pw' } });
    expect(invalid.body.errcode).toBe('M_INVALID_USERNAME');
  });

  it('M_MISSING_PARAM without a password', async () => {
    const res = await request(s.baseUrl, 'POST', url, { body: { username: uniqueName() } });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('M_FORBIDDEN when registration is disabled', async () => {
    const res = await request(closed.baseUrl, 'POST', url, { body: { username: 'x', password: 'pw' } });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });
});
