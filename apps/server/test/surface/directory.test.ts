import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, SHARED_SECRET, startServer, uniqueName, V1, type Account, type TestServer } from '../helpers/index.js';
import { createHmac } from 'node:crypto';

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { expect(srv.specViolations()).toEqual([]); await srv.close(); });

const enc = encodeURIComponent;

async function createRoom(who: Account, body: Record<string, unknown> = {}): Promise<string> {
  const res = await request<{ room_id: string }>(srv.baseUrl, 'POST', `${V1}/createRoom`, { token: who.accessToken, body });
  expect(res.status).toBe(200);
  return res.body.room_id;
}

const putAlias = (who: Account, alias: string, roomId: string) =>
  request(srv.baseUrl, 'PUT', `${V1}/directory/room/${enc(alias)}`, { token: who.accessToken, body: { room_id: roomId } });

describe('room aliases', () => {
  it('createRoom\'s alias resolves; PUT adds one, GET resolves it, 409 when taken, DELETE removes it', async () => {
    const alice = await register(srv.baseUrl);
    const name = uniqueName('room');
    const created = await request<{ room_id: string }>(srv.baseUrl, 'POST', `${V1}/createRoom`,
      { token: alice.accessToken, body: { room_alias_name: name } });
    const roomId = created.body.room_id;
    const got = await request(srv.baseUrl, 'GET', `${V1}/directory/room/${enc(`#${name}:localhost`)}`);
    expect(got).toMatchObject({ status: 200, body: { room_id: roomId, servers: ['localhost'] } });

    const alias = `#${uniqueName('extra')}:localhost`;
    expect((await putAlias(alice, alias, roomId)).status).toBe(200);
    expect((await request(srv.baseUrl, 'GET', `${V1}/directory/room/${enc(alias)}`)).body.room_id).toBe(roomId);
    const aliases = await request<{ aliases: string[] }>(srv.baseUrl, 'GET', `${V1}/rooms/${enc(roomId)}/state/m.room.aliases/localhost`, { token: alice.accessToken });
    expect(aliases.body.aliases.sort()).toEqual([`#${name}:localhost`, alias].sort());

    const taken = await putAlias(alice, alias, roomId);
    expect(taken.status).toBe(409);
    expect(taken.body.errcode).toBe('M_UNKNOWN');

    expect((await request(srv.baseUrl, 'DELETE', `${V1}/directory/room/${enc(alias)}`, { token: alice.accessToken })).status).toBe(200);
    const gone = await request(srv.baseUrl, 'GET', `${V1}/directory/room/${enc(alias)}`);
    expect(gone.status).toBe(404);
    expect(gone.body.errcode).toBe('M_NOT_FOUND');
    const again = await request(srv.baseUrl, 'DELETE', `${V1}/directory/room/${enc(alias)}`, { token: alice.accessToken });
    expect(again.status).toBe(404);
  });

  it('checks the grammar and the server of an alias, and the room', async () => {
    const alice = await register(srv.baseUrl);
    const roomId = await createRoom(alice);
    for (const bad of ['monkeys:localhost', '#:localhost', '#monkeys', '#mon keys:localhost']) {
      const res = await putAlias(alice, bad, roomId);
      expect(res.status, bad).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
    const remote = await putAlias(alice, '#monkeys:elsewhere.org', roomId);
    expect(remote.status).toBe(400);
    const noRoom = await putAlias(alice, `#${uniqueName()}:localhost`, '!nope:localhost');
    expect(noRoom.status).toBe(404);
    expect((await request(srv.baseUrl, 'GET', `${V1}/directory/room/${enc('not-an-alias')}`)).status).toBe(400);
    expect((await request(srv.baseUrl, 'GET', `${V1}/directory/room/${enc('#unknown:elsewhere.org')}`)).status).toBe(404);
  });

  it('only members may add an alias; only the creator, a room admin or a server admin may delete it', async () => {
    const alice = await register(srv.baseUrl);
    const bob = await register(srv.baseUrl);
    const carol = await register(srv.baseUrl);
    const roomId = await createRoom(alice, { preset: 'public_chat' });
    const outsider = await putAlias(bob, `#${uniqueName()}:localhost`, roomId);
    expect(outsider.status).toBe(403);
    expect(outsider.body.errcode).toBe('M_FORBIDDEN');

    await request(srv.baseUrl, 'POST', `${V1}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} });
    await request(srv.baseUrl, 'POST', `${V1}/join/${enc(roomId)}`, { token: carol.accessToken, body: {} });
    const bobs = `#${uniqueName()}:localhost`;
    expect((await putAlias(bob, bobs, roomId)).status).toBe(200);
    const byCarol = await request(srv.baseUrl, 'DELETE', `${V1}/directory/room/${enc(bobs)}`, { token: carol.accessToken });
    expect(byCarol.status).toBe(403);
    expect(byCarol.body.errcode).toBe('M_FORBIDDEN');
    // Alice is the room's admin (power 100).
    expect((await request(srv.baseUrl, 'DELETE', `${V1}/directory/room/${enc(bobs)}`, { token: alice.accessToken })).status).toBe(200);

    const alices = `#${uniqueName()}:localhost`;
    expect((await putAlias(alice, alices, roomId)).status).toBe(200);
    const adminName = uniqueName('admin');
    const nonce = (await request<{ nonce: string }>(srv.baseUrl, 'GET', '/_synapse/admin/v1/register')).body.nonce;
    const mac = createHmac('sha1', SHARED_SECRET).update(`${nonce}\0${adminName}\0pw\0admin`).digest('hex');
    const reg = await request<{ access_token: string }>(srv.baseUrl, 'POST', '/_synapse/admin/v1/register',
      { body: { nonce, username: adminName, password: 'pw', admin: true, mac } });
    expect(reg.status).toBe(200);
    expect((await request(srv.baseUrl, 'DELETE', `${V1}/directory/room/${enc(alices)}`, { token: reg.body.access_token })).status).toBe(200);
  });
});

describe('public rooms', () => {
  it('lists the rooms created public with their summary, not the private ones', async () => {
    const alice = await register(srv.baseUrl);
    const bob = await register(srv.baseUrl);
    const name = uniqueName('pub');
    const pub = await createRoom(alice, {
      visibility: 'public', room_alias_name: name, name: 'Cheese', topic: 'Tasty',
      initial_state: [
        { type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } },
        { type: 'm.room.avatar', state_key: '', content: { url: 'mxc://localhost/cheese' } },
      ],
    });
    await request(srv.baseUrl, 'POST', `${V1}/join/${enc(pub)}`, { token: bob.accessToken, body: {} });
    const priv = await createRoom(alice, { visibility: 'private', name: 'Secret' });
    const res = await request<{ start: string; end: string; chunk: Record<string, unknown>[] }>(srv.baseUrl, 'GET', `${V1}/publicRooms`);
    expect(res.status).toBe(200);
    expect(typeof res.body.start).toBe('string');
    const entry = res.body.chunk.find((r) => r.room_id === pub);
    expect(entry).toEqual({
      room_id: pub, aliases: [`#${name}:localhost`], canonical_alias: `#${name}:localhost`, name: 'Cheese', topic: 'Tasty',
      num_joined_members: 2, world_readable: true, guest_can_join: false, avatar_url: 'mxc://localhost/cheese',
    });
    expect(res.body.chunk.some((r) => r.room_id === priv)).toBe(false);
    // A token is accepted but not needed.
    expect((await request(srv.baseUrl, 'GET', `${V1}/publicRooms`, { token: alice.accessToken })).status).toBe(200);
  });
});

describe('voip', () => {
  it('answers {} without a TURN server', async () => {
    const alice = await register(srv.baseUrl);
    const res = await request(srv.baseUrl, 'GET', `${V1}/voip/turnServer`, { token: alice.accessToken });
    expect(res).toMatchObject({ status: 200, body: {} });
    expect((await request(srv.baseUrl, 'GET', `${V1}/voip/turnServer`)).status).toBe(401);
  });

  it('hands out time-limited credentials with turn_uris and turn_shared_secret', async () => {
    const turn = await startServer({ config: { turn_uris: ['turn:turn.localhost:3478?transport=udp'], turn_shared_secret: 's3cret', turn_user_lifetime: '1h' } });
    try {
      const alice = await register(turn.baseUrl);
      const res = await request<{ username: string; password: string; uris: string[]; ttl: number }>(turn.baseUrl, 'GET', `${V1}/voip/turnServer`, { token: alice.accessToken });
      expect(res.status).toBe(200);
      expect(res.body.uris).toEqual(['turn:turn.localhost:3478?transport=udp']);
      expect(res.body.ttl).toBe(3600);
      const [expiry, user] = [res.body.username.slice(0, res.body.username.indexOf(':')), res.body.username.slice(res.body.username.indexOf(':') + 1)];
      expect(user).toBe(alice.userId);
      expect(Number(expiry) * 1000).toBeGreaterThan(Date.now() + 3_500_000);
      expect(res.body.password).toBe(createHmac('sha1', 's3cret').update(res.body.username).digest('base64'));
      expect(turn.specViolations()).toEqual([]);
    } finally {
      await turn.close();
    }
  });
});
