import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, type Account, type TestServer } from '../helpers/index.js';

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { expect(srv.specViolations()).toEqual([]); await srv.close(); });

const enc = encodeURIComponent;

async function createRoom(who: Account, body: Record<string, unknown> = {}): Promise<string> {
  const res = await request<{ room_id: string }>(srv.baseUrl, 'POST', `${V1}/createRoom`, { token: who.accessToken, body });
  expect(res.status).toBe(200);
  return res.body.room_id;
}

describe('profile', () => {
  it('reads and writes display name and avatar, without a token for reads', async () => {
    const alice = await register(srv.baseUrl);
    const empty = await request(srv.baseUrl, 'GET', `${V1}/profile/${enc(alice.userId)}`);
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({});
    const set = await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/displayname`,
      { token: alice.accessToken, body: { displayname: 'Alice' } });
    expect(set).toMatchObject({ status: 200, body: {} });
    const setAvatar = await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/avatar_url`,
      { token: alice.accessToken, body: { avatar_url: 'mxc://localhost/abc' } });
    expect(setAvatar.status).toBe(200);
    expect((await request(srv.baseUrl, 'GET', `${V1}/profile/${enc(alice.userId)}/displayname`)).body).toEqual({ displayname: 'Alice' });
    expect((await request(srv.baseUrl, 'GET', `${V1}/profile/${enc(alice.userId)}/avatar_url`)).body).toEqual({ avatar_url: 'mxc://localhost/abc' });
    expect((await request(srv.baseUrl, 'GET', `${V1}/profile/${enc(alice.userId)}`)).body)
      .toEqual({ displayname: 'Alice', avatar_url: 'mxc://localhost/abc' });
    // An empty string clears the field, as in Synapse.
    await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/displayname`, { token: alice.accessToken, body: { displayname: '' } });
    expect((await request(srv.baseUrl, 'GET', `${V1}/profile/${enc(alice.userId)}`)).body).toEqual({ avatar_url: 'mxc://localhost/abc' });
  });

  it('404 M_NOT_FOUND for unknown users', async () => {
    for (const path of ['', '/displayname', '/avatar_url']) {
      const res = await request(srv.baseUrl, 'GET', `${V1}/profile/${enc('@nobody:localhost')}${path}`);
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
  });

  it('a user may write only their own profile: M_FORBIDDEN otherwise', async () => {
    const alice = await register(srv.baseUrl);
    const mallory = await register(srv.baseUrl);
    const name = await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/displayname`,
      { token: mallory.accessToken, body: { displayname: 'pwned' } });
    expect(name.status).toBe(403);
    expect(name.body.errcode).toBe('M_FORBIDDEN');
    const avatar = await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/avatar_url`,
      { token: mallory.accessToken, body: { avatar_url: 'mxc://localhost/evil' } });
    expect(avatar.status).toBe(403);
    expect(avatar.body.errcode).toBe('M_FORBIDDEN');
    const noToken = await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/displayname`, { body: { displayname: 'x' } });
    expect(noToken.status).toBe(401);
    expect((await request(srv.baseUrl, 'GET', `${V1}/profile/${enc(alice.userId)}`)).body).toEqual({});
  });

  it('rejects non-string and over-long values', async () => {
    const alice = await register(srv.baseUrl);
    const bad = await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/displayname`,
      { token: alice.accessToken, body: { displayname: 5 } });
    expect(bad.status).toBe(400);
    const long = await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/displayname`,
      { token: alice.accessToken, body: { displayname: 'x'.repeat(257) } });
    expect(long.status).toBe(400);
    const missing = await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/avatar_url`, { token: alice.accessToken, body: {} });
    expect(missing.status).toBe(400);
  });

  it('a change writes a new m.room.member join event in every joined room, and only those', async () => {
    const alice = await register(srv.baseUrl);
    const bob = await register(srv.baseUrl);
    const r1 = await createRoom(alice, { preset: 'public_chat' });
    const r2 = await createRoom(bob, { preset: 'public_chat' });
    const r3 = await createRoom(bob, { preset: 'public_chat' });
    expect((await request(srv.baseUrl, 'POST', `${V1}/join/${enc(r2)}`, { token: alice.accessToken, body: {} })).status).toBe(200);
    expect((await request(srv.baseUrl, 'POST', `${V1}/join/${enc(r3)}`, { token: alice.accessToken, body: {} })).status).toBe(200);
    expect((await request(srv.baseUrl, 'POST', `${V1}/rooms/${enc(r3)}/leave`, { token: alice.accessToken, body: {} })).status).toBe(200);
    await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/displayname`, { token: alice.accessToken, body: { displayname: 'Alice A.' } });
    await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(alice.userId)}/avatar_url`, { token: alice.accessToken, body: { avatar_url: 'mxc://localhost/av' } });
    for (const room of [r1, r2]) {
      const own = await request(srv.baseUrl, 'GET', `${V1}/rooms/${enc(room)}/state/m.room.member/${enc(alice.userId)}`, { token: alice.accessToken });
      expect(own.body).toEqual({ membership: 'join', displayname: 'Alice A.', avatar_url: 'mxc://localhost/av' });
    }
    const left = await request(srv.baseUrl, 'GET', `${V1}/rooms/${enc(r3)}/state/m.room.member/${enc(alice.userId)}`, { token: bob.accessToken });
    expect(left.body).toEqual({ membership: 'leave' });
    // A later join carries the profile too.
    const r4 = await createRoom(bob, { preset: 'public_chat' });
    await request(srv.baseUrl, 'POST', `${V1}/join/${enc(r4)}`, { token: alice.accessToken, body: {} });
    const joined = await request(srv.baseUrl, 'GET', `${V1}/rooms/${enc(r4)}/state/m.room.member/${enc(alice.userId)}`, { token: alice.accessToken });
    expect(joined.body).toEqual({ membership: 'join', displayname: 'Alice A.', avatar_url: 'mxc://localhost/av' });
  });
});
