/**
 * Limits as Synapse sets them: 65,536 bytes per event (413 M_TOO_LARGE), the request body
 * limit (max_request_body_size, 413 M_TOO_LARGE), 255 characters for state keys, event
 * types and ids, and the user id grammar (M_INVALID_USERNAME). Refusals store nothing.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, SHARED_SECRET, V1, V2, type Account, type TestServer } from '../helpers/index.js';
import { DbWatch, expectClientError, rawRequest, startSecurityServer } from './util.js';

let srv: TestServer;
let small: TestServer;
let watch: DbWatch;
let alice: Account;
let roomId: string;
const enc = encodeURIComponent;

beforeAll(async () => {
  [srv, small] = await Promise.all([startSecurityServer(), startSecurityServer({ config: { max_request_body_size: '16K' } })]);
  watch = await DbWatch.open(srv);
  alice = await register(srv.baseUrl);
  const created = await request<{ room_id: string }>(srv.baseUrl, 'POST', `${V1}/createRoom`, { token: alice.accessToken, body: {} });
  roomId = created.body.room_id;
}, 30_000);
afterAll(async () => {
  await watch?.close();
  expect(srv.specViolations()).toEqual([]);
  await Promise.all([srv.close(), small.close()]);
});

let txn = 0;
const send = (content: unknown, type = 'm.room.message') =>
  request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(roomId)}/send/${enc(type)}/lim${++txn}`, { token: alice.accessToken, body: content });
const putState = (type: string, stateKey: string, content: unknown) =>
  request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, { token: alice.accessToken, body: content });

/** The largest padding accepted by `attempt`, by bisection over [lo, hi). */
async function largestAccepted(attempt: (n: number) => Promise<number>, lo: number, hi: number): Promise<number> {
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((await attempt(mid)) === 200) lo = mid;
    else hi = mid;
  }
  return lo;
}

describe('event size: 65,536 bytes of JSON (Synapse MAX_PDU_SIZE)', () => {
  it('accepts a message just under the limit and refuses one byte more with 413 M_TOO_LARGE, storing nothing', async () => {
    const content = (n: number) => ({ msgtype: 'm.text', body: 'x'.repeat(n) });
    const largest = await largestAccepted(async (n) => (await send(content(n))).status, 60_000, 66_000);
    // The envelope (ids, sender, type, timestamps) takes a few hundred bytes of the 65,536.
    expect(largest).toBeGreaterThan(65_536 - 700);
    expect(largest).toBeLessThan(65_536);
    const over = await watch.expectNoWrite('one byte over', () => send(content(largest + 1)));
    expect(over.status).toBe(413);
    expect(over.body.errcode).toBe('M_TOO_LARGE');
  }, 30_000);

  it('applies to state events, counting multi-byte characters as bytes', async () => {
    const res = await watch.expectNoWrite('state too large', () => putState('org.example.big', '', { v: 'é'.repeat(33_000) }));
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
    expect((await putState('org.example.big', '', { v: 'é'.repeat(30_000) })).status).toBe(200);
  });

  it('applies to createRoom initial state (413, no room made)', async () => {
    const res = await watch.expectNoWrite('huge topic', () => request(srv.baseUrl, 'POST', `${V1}/createRoom`, { token: alice.accessToken, body: { topic: 't'.repeat(70_000) } }));
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
  });
});

describe('request body size: max_request_body_size', () => {
  it('refuses a body over the configured limit with 413 M_TOO_LARGE before parsing it', async () => {
    const a = await register(small.baseUrl);
    const created = await request<{ room_id: string }>(small.baseUrl, 'POST', `${V1}/createRoom`, { token: a.accessToken, body: {} });
    const path = `${V1}/rooms/${enc(created.body.room_id)}/send/m.room.message/big`;
    const body = (n: number) => JSON.stringify({ msgtype: 'm.text', body: 'x'.repeat(n - 30) });
    expect(body(16 * 1024).length).toBe(16 * 1024);
    const ok = await rawRequest(small.baseUrl, { method: 'PUT', path, headers: { authorization: `Bearer ${a.accessToken}` }, body: body(16 * 1024) });
    expect(ok.status).toBe(200);
    const over = await rawRequest(small.baseUrl, { method: 'PUT', path: `${path}2`, headers: { authorization: `Bearer ${a.accessToken}` }, body: body(16 * 1024 + 1) });
    expect(over.status).toBe(413);
    expect(expectClientError(over, 'over the body limit').errcode).toBe('M_TOO_LARGE');
    // Even unauthenticated endpoints: the limit holds for registration too.
    const reg = await rawRequest(small.baseUrl, { method: 'POST', path: `${V1}/register`, body: JSON.stringify({ type: 'm.login.password', user: 'x', password: 'p'.repeat(20_000) }) });
    expect(reg.status).toBe(413);
  });

  it('refuses a chunked body (no Content-Length) once it passes the limit', async () => {
    const { request: httpRequest } = await import('node:http');
    const url = new URL(small.baseUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path: `${V1}/login`, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"type":"m.login.password","user":"x","password":"');
      for (let i = 0; i < 40; i++) req.write('p'.repeat(1024));
      req.end('"}');
    });
    expect(status).toBe(413);
  });

  it('defaults to 1M, far above any event', async () => {
    expect(srv.config.max_request_body_size).toBe('1M');
    const res = await rawRequest(srv.baseUrl, { method: 'POST', path: `${V1}/login`, body: JSON.stringify({ type: 'm.login.password', user: 'x', password: 'p'.repeat(1024 * 1024) }) });
    expect(res.status).toBe(413);
    expect(expectClientError(res, '1M body').errcode).toBe('M_TOO_LARGE');
  });
});

describe('255-character limits', () => {
  it('state_key: 255 accepted, 256 refused without a write', async () => {
    expect((await putState('org.example.key', 'k'.repeat(255), { a: 1 })).status).toBe(200);
    const res = await watch.expectNoWrite('state_key 256', () => putState('org.example.key', 'k'.repeat(256), { a: 1 }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(['M_BAD_JSON', 'M_TOO_LARGE', 'M_INVALID_PARAM']).toContain(res.body.errcode);
  });

  it('event type: 255 accepted, 256 refused without a write', async () => {
    expect((await send({ a: 1 }, 't'.repeat(255))).status).toBe(200);
    const res = await watch.expectNoWrite('type 256', () => send({ a: 1 }, 't'.repeat(256)));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('room ids and aliases over 255 characters name no room', async () => {
    const longRoom = `!${'a'.repeat(260)}:localhost`;
    for (const [method, path, body] of [
      ['PUT', `${V1}/rooms/${enc(longRoom)}/send/m.room.message/long1`, { body: 'x' }],
      ['GET', `${V1}/rooms/${enc(longRoom)}/state`, undefined],
      ['POST', `${V1}/join/${enc(`#${'a'.repeat(260)}:localhost`)}`, {}],
      ['POST', `${V1}/rooms/${enc(roomId)}/invite`, { user_id: `@${'a'.repeat(260)}:localhost` }],
    ] as const) {
      const res = await watch.expectNoWrite(path, () => request(srv.baseUrl, method, path, { token: alice.accessToken, ...(body ? { body } : {}) }));
      expect(res.status, `${method} ${path.slice(0, 60)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('room_alias_name making an alias over 255 characters is refused', async () => {
    const res = await watch.expectNoWrite('long alias', () => request(srv.baseUrl, 'POST', `${V1}/createRoom`, { token: alice.accessToken, body: { room_alias_name: 'a'.repeat(250) } }));
    expect(res.status).toBe(400);
  });
});

describe('user id grammar: M_INVALID_USERNAME', () => {
  const server = 'localhost';
  const bad = ['Alice', 'al ice', 'al:ice', 'al@ice', 'élodie', '_reserved', '', 'a\u0000b', 'a'.repeat(256 - `@:${server}`.length)];
  const good = ['a.b-c=d_e/f', '0123', 'a'.repeat(255 - `@:${server}`.length)];

  it('v1 and v2 registration refuse every bad localpart, writing nothing', async () => {
    for (const user of bad) {
      const v1 = await watch.expectNoWrite(`v1 ${JSON.stringify(user)}`, () => request(srv.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user, password: 'pw' } }));
      // An empty name means "pick one for me" in v1, as in Synapse.
      if (user === '') continue;
      expect(v1.status, JSON.stringify(user)).toBe(400);
      expect(v1.body.errcode, JSON.stringify(user)).toBe('M_INVALID_USERNAME');
      const v2 = await watch.expectNoWrite(`v2 ${JSON.stringify(user)}`, () => request(srv.baseUrl, 'POST', `${V2}/register`, { body: { username: user, password: 'pw' } }));
      expect(v2.status, JSON.stringify(user)).toBe(400);
      expect(v2.body.errcode).toBe('M_INVALID_USERNAME');
    }
  });

  it('shared-secret registration applies the same grammar', async () => {
    const nonce = (await request<{ nonce: string }>(srv.baseUrl, 'GET', '/_synapse/admin/v1/register')).body.nonce;
    const mac = createHmac('sha1', SHARED_SECRET).update(`${nonce}\0Bad Name\0pw\0notadmin`).digest('hex');
    const res = await watch.expectNoWrite('admin bad name', () => request(srv.baseUrl, 'POST', '/_synapse/admin/v1/register', { body: { nonce, username: 'Bad Name', password: 'pw', mac } }));
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_USERNAME');
  });

  it('accepts the whole historical grammar up to 255 characters', async () => {
    for (const user of good) {
      const unique = user.length > 200 ? user : `${user}${txn++}`;
      const res = await request<{ user_id: string }>(srv.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user: unique, password: 'pw' } });
      expect(res.status, `${unique}: ${JSON.stringify(res.body)}`).toBe(200);
      expect(res.body.user_id).toBe(`@${unique}:${server}`);
    }
  });
});

describe('password length: 512 characters (Synapse: 400 M_UNKNOWN "Invalid password")', () => {
  const ok = 'p'.repeat(512);
  const long = 'p'.repeat(513);
  const invalid = (res: { status: number; body: Record<string, unknown> }, label: string) => {
    expect(res.status, `${label}: ${JSON.stringify(res.body)}`).toBe(400);
    expect(res.body.errcode, label).toBe('M_UNKNOWN');
    expect(res.body.error, label).toBe('Invalid password');
  };
  const adminRegister = async (username: string, password: string) => {
    const nonce = (await request<{ nonce: string }>(srv.baseUrl, 'GET', '/_synapse/admin/v1/register')).body.nonce;
    const mac = createHmac('sha1', SHARED_SECRET).update(`${nonce}\0${username}\0${password}\0notadmin`).digest('hex');
    return request(srv.baseUrl, 'POST', '/_synapse/admin/v1/register', { body: { nonce, username, password, mac } });
  };

  it('512 characters work everywhere; 513 are refused on every path, writing nothing', async () => {
    const user = `pwlen${txn++}`;
    expect((await request(srv.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user, password: ok } })).status).toBe(200);
    const session = await request<{ access_token: string }>(srv.baseUrl, 'POST', `${V1}/login`, { body: { type: 'm.login.password', user, password: ok } });
    expect(session.status).toBe(200);
    const token = session.body.access_token;

    invalid(await watch.expectNoWrite('v1 register', () => request(srv.baseUrl, 'POST', `${V1}/register`,
      { body: { type: 'm.login.password', user: `pwlong${txn++}`, password: long } })), 'v1 register');
    // v2 checks the password before the username and before user-interactive auth, as Synapse does.
    invalid(await watch.expectNoWrite('v2 register', () => request(srv.baseUrl, 'POST', `${V2}/register`,
      { body: { username: `pwlong${txn++}`, password: long } })), 'v2 register');
    invalid(await watch.expectNoWrite('v2 register, name taken', () => request(srv.baseUrl, 'POST', `${V2}/register`,
      { body: { username: user, password: long } })), 'v2 register, name taken');
    invalid(await watch.expectNoWrite('login', () => request(srv.baseUrl, 'POST', `${V1}/login`,
      { body: { type: 'm.login.password', user, password: long } })), 'login');
    invalid(await watch.expectNoWrite('account/password', () => request(srv.baseUrl, 'POST', `${V2}/account/password`,
      { token, body: { new_password: long } })), 'account/password');
    invalid(await adminRegister(`pwlong${txn++}`, long), 'admin register');
    // Before the MAC is checked, as in Synapse.
    const nonce = (await request<{ nonce: string }>(srv.baseUrl, 'GET', '/_synapse/admin/v1/register')).body.nonce;
    invalid(await request(srv.baseUrl, 'POST', '/_synapse/admin/v1/register', { body: { nonce, username: `pwlong${txn++}`, password: long, mac: '00' } }), 'admin register, bad MAC');

    // The refused change left the password and the session alone.
    expect((await request(srv.baseUrl, 'POST', `${V1}/login`, { body: { type: 'm.login.password', user, password: ok } })).status).toBe(200);
    expect((await request(srv.baseUrl, 'POST', `${V2}/account/password`, { token, body: { new_password: ok.toUpperCase() } })).status).toBe(200);
    expect((await adminRegister(`pwok${txn++}`, ok)).status).toBe(200);
  });

  it('counts characters as Synapse (Python) does: code points, not UTF-16 units', async () => {
    const emoji = '\u{1F600}';
    const user = `pwemoji${txn++}`;
    // 512 astral characters are 1,024 UTF-16 units: still 512 characters.
    expect((await request(srv.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user, password: emoji.repeat(512) } })).status).toBe(200);
    expect((await request(srv.baseUrl, 'POST', `${V1}/login`, { body: { type: 'm.login.password', user, password: emoji.repeat(512) } })).status).toBe(200);
    invalid(await request(srv.baseUrl, 'POST', `${V1}/register`, { body: { type: 'm.login.password', user: `pwemoji${txn++}`, password: emoji.repeat(513) } }), 'v1 register, 513 astral');
  });
});
