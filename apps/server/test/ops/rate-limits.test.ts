import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RATE_LIMIT_DEFAULTS } from '../../src/config/schema.js';
import { checkConfig } from '../../src/config/load.js';
import { TokenBucketLimiter } from '../../src/domain/ratelimit/token-bucket.js';
import { login, register, request, SHARED_SECRET, startServer, uniqueName, V1, V2, type TestServer } from '../helpers/index.js';

const UNLIMITED = { per_second: 1_000_000, burst_count: 1_000_000 };
const servers: TestServer[] = [];
async function server(config: Record<string, unknown>): Promise<TestServer> {
  const s = await startServer({ config: { rc_message: UNLIMITED, rc_login: UNLIMITED, rc_registration: UNLIMITED, ...config } });
  servers.push(s);
  return s;
}
afterEach(async () => {
  for (const s of servers.splice(0)) {
    expect(s.specViolations()).toEqual([]);
    await s.close();
  }
});

function expectLimited(res: { status: number; body: Record<string, unknown>; headers: Headers }): void {
  expect(res.status).toBe(429);
  expect(res.body.errcode).toBe('M_LIMIT_EXCEEDED');
  expect(typeof res.body.retry_after_ms).toBe('number');
  expect(res.body.retry_after_ms as number).toBeGreaterThan(0);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

async function createRoom(s: TestServer, token: string): Promise<string> {
  const res = await request<{ room_id: string }>(s.baseUrl, 'POST', `${V1}/createRoom`, { token, body: {} });
  expect(res.status).toBe(200);
  return encodeURIComponent(res.body.room_id);
}

async function sharedSecretRegister(s: TestServer, admin: boolean, headers: Record<string, string> = {}) {
  const { body } = await request<{ nonce: string }>(s.baseUrl, 'GET', '/_synapse/admin/v1/register');
  const username = uniqueName('adm');
  const mac = createHmac('sha1', SHARED_SECRET).update(`${body.nonce}\0${username}\0pw\0${admin ? 'admin' : 'notadmin'}`).digest('hex');
  return request<{ access_token: string; user_id: string }>(s.baseUrl, 'POST', '/_synapse/admin/v1/register', {
    body: { nonce: body.nonce, username, password: 'pw', admin, mac }, headers,
  });
}

describe('token bucket', () => {
  it('allows burst_count at once, then one per 1/per_second, with retry_after_ms', () => {
    let now = 0;
    const b = new TokenBucketLimiter({ per_second: 0.5, burst_count: 2 }, () => now);
    expect(b.take('k')).toEqual({ allowed: true });
    expect(b.take('k')).toEqual({ allowed: true });
    expect(b.take('k')).toEqual({ allowed: false, retryAfterMs: 2000 });
    expect(b.take('other')).toEqual({ allowed: true });
    now = 1500;
    expect(b.take('k')).toEqual({ allowed: false, retryAfterMs: 500 });
    now = 2000;
    expect(b.take('k')).toEqual({ allowed: true });
    // check without using a token
    now = 10_000;
    expect(b.take('k', false)).toEqual({ allowed: true });
    expect(b.take('k')).toEqual({ allowed: true });
    expect(b.take('k')).toEqual({ allowed: true });
    expect(b.take('k').allowed).toBe(false);
  });

  it('has Synapse\'s defaults in the config', () => {
    const c = checkConfig({ server_name: 'x', listeners: [{ port: 1 }], database: { name: 'sqlite3', args: { database: 'x.db' } } }, '/tmp');
    expect(c.rc_message).toEqual(RATE_LIMIT_DEFAULTS.rc_message);
    expect(c.rc_message).toEqual({ per_second: 0.2, burst_count: 10 });
    expect(c.rc_login).toEqual(RATE_LIMIT_DEFAULTS.rc_login);
    expect(c.rc_registration).toEqual(RATE_LIMIT_DEFAULTS.rc_registration);
  });
});

describe('rc_message', () => {
  it('limits events sent per user (send, state, redact), not other users, and exempts admins', async () => {
    const s = await server({ rc_message: { per_second: 0.001, burst_count: 3 } });
    const alice = await register(s.baseUrl);
    const roomId = await createRoom(s, alice.accessToken);
    const send = (token: string, room: string, txn: string) =>
      request(s.baseUrl, 'PUT', `${V1}/rooms/${room}/send/m.room.message/${txn}`, { token, body: { msgtype: 'm.text', body: txn } });
    expect((await send(alice.accessToken, roomId, 't1')).status).toBe(200);
    expect((await request(s.baseUrl, 'PUT', `${V1}/rooms/${roomId}/state/m.room.topic`, { token: alice.accessToken, body: { topic: 'x' } })).status).toBe(200);
    const third = await request<{ event_id: string }>(s.baseUrl, 'POST', `${V1}/rooms/${roomId}/send/m.room.message`, { token: alice.accessToken, body: { msgtype: 'm.text', body: 'x' } });
    expect(third.status).toBe(200);
    expectLimited(await send(alice.accessToken, roomId, 't4'));
    expectLimited(await request(s.baseUrl, 'PUT', `${V1}/rooms/${roomId}/state/m.room.topic`, { token: alice.accessToken, body: { topic: 'y' } }));
    expectLimited(await request(s.baseUrl, 'POST', `${V1}/rooms/${roomId}/redact/${encodeURIComponent(third.body.event_id)}`, { token: alice.accessToken, body: {} }));
    // Reads are not limited.
    expect((await request(s.baseUrl, 'GET', `${V1}/rooms/${roomId}/state`, { token: alice.accessToken })).status).toBe(200);

    // Another user has their own bucket.
    const bob = await register(s.baseUrl);
    const bobRoom = await createRoom(s, bob.accessToken);
    expect((await send(bob.accessToken, bobRoom, 'b1')).status).toBe(200);

    // An admin (made through the shared-secret API) is never limited.
    const admin = await sharedSecretRegister(s, true);
    expect(admin.status).toBe(200);
    const adminRoom = await createRoom(s, admin.body.access_token);
    for (let i = 0; i < 6; i++) expect((await send(admin.body.access_token, adminRoom, `a${i}`)).status).toBe(200);
  });
});

describe('rc_login', () => {
  it('limits login attempts per client address', async () => {
    const s = await server({ rc_login: { per_second: 0.001, burst_count: 3 } });
    const users = await Promise.all([register(s.baseUrl), register(s.baseUrl), register(s.baseUrl), register(s.baseUrl)]);
    expect((await login(s.baseUrl, users[0]!.userId, 'wrong')).status).toBe(403);
    expect((await login(s.baseUrl, users[1]!.userId, users[1]!.password)).status).toBe(200);
    expect((await login(s.baseUrl, users[2]!.userId, users[2]!.password)).status).toBe(200);
    // A fourth attempt from the same address, for yet another user, even with the right password.
    expectLimited(await login(s.baseUrl, users[3]!.userId, users[3]!.password) as never);
  });

  it('limits login attempts per user, whichever address they come from', async () => {
    const s = await server({ rc_login: { per_second: 0.001, burst_count: 2 }, listeners: [{ port: 0, bind_addresses: ['127.0.0.1'], x_forwarded: true }] });
    const alice = await register(s.baseUrl);
    const from = (ip: string) => ({ headers: { 'X-Forwarded-For': ip }, body: { type: 'm.login.password', user: alice.userId, password: alice.password } });
    expect((await request(s.baseUrl, 'POST', `${V1}/login`, from('10.0.0.1'))).status).toBe(200);
    // The localpart and the full user id are the same account.
    expect((await request(s.baseUrl, 'POST', `${V1}/login`, { ...from('10.0.0.2'), body: { ...from('').body, user: alice.userId.slice(1).split(':')[0] } })).status).toBe(200);
    expectLimited(await request(s.baseUrl, 'POST', `${V1}/login`, from('10.0.0.3')));
  });
});

describe('rc_registration', () => {
  it('limits registrations per client address, counting only those that succeed; the shared-secret API is exempt', async () => {
    const s = await server({ rc_registration: { per_second: 0.001, burst_count: 2 } });
    await register(s.baseUrl);
    // The v2 user-interactive round trip: the 401 challenge does not count.
    const username = uniqueName('v2');
    const challenge = await request<{ session: string }>(s.baseUrl, 'POST', `${V2}/register`, { body: { username, password: 'pw' } });
    expect(challenge.status).toBe(401);
    const done = await request(s.baseUrl, 'POST', `${V2}/register`, { body: { username, password: 'pw', auth: { type: 'm.login.dummy', session: challenge.body.session } } });
    expect(done.status).toBe(200);
    expectLimited(await request(s.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user: uniqueName(), password: 'pw' } }));
    expectLimited(await request(s.baseUrl, 'POST', `${V2}/register`, { body: { username: uniqueName(), password: 'pw' } }));
    for (let i = 0; i < 4; i++) expect((await sharedSecretRegister(s, false)).status).toBe(200);
  });
});

describe('x_forwarded', () => {
  const registerFrom = (s: TestServer, ip: string) =>
    request(s.baseUrl, 'POST', `${V1}/register`, { headers: { 'X-Forwarded-For': `${ip}, 10.9.9.9` }, body: { type: 'm.login.password', user: uniqueName(), password: 'pw' } });

  it('off (the default): X-Forwarded-For is ignored, in rate limits and in logs', async () => {
    const s = await server({ rc_registration: { per_second: 0.001, burst_count: 1 } });
    expect(s.config.listeners[0]!.x_forwarded).toBe(false);
    expect((await registerFrom(s, '203.0.113.1')).status).toBe(200);
    expectLimited(await registerFrom(s, '203.0.113.2') as never);
    const lines = s.logs.filter((l) => l.msg === 'request');
    expect(lines.map((l) => l.client)).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('on: the client address is the first X-Forwarded-For entry, in rate limits and in logs', async () => {
    const s = await server({ rc_registration: { per_second: 0.001, burst_count: 1 }, listeners: [{ port: 0, bind_addresses: ['127.0.0.1'], x_forwarded: true }] });
    expect((await registerFrom(s, '203.0.113.1')).status).toBe(200);
    expect((await registerFrom(s, '203.0.113.2')).status).toBe(200);
    expectLimited(await registerFrom(s, '203.0.113.1') as never);
    const lines = s.logs.filter((l) => l.msg === 'request');
    expect(lines.map((l) => l.client)).toEqual(['203.0.113.1', '203.0.113.2', '203.0.113.1']);
  });
});
