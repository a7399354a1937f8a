import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, V2, type Account, type TestServer } from '../helpers/index.js';
import { createRoom, enc, events, follow, initialSync, membership, send } from '../sync/util.js';

type Ev = Record<string, any>;
let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { expect(srv.specViolations()).toEqual([]); await srv.close(); });

/** Two users joined to one new room, and bob's stream position after the joins. */
async function pair(): Promise<{ alice: Account; bob: Account; roomId: string; from: string }> {
  const alice = await register(srv.baseUrl);
  const bob = await register(srv.baseUrl);
  const roomId = await createRoom(srv.baseUrl, alice, { preset: 'public_chat' });
  expect(await membership(srv.baseUrl, bob, roomId, 'join')).toBe(200);
  const is = await initialSync(srv.baseUrl, bob);
  return { alice, bob, roomId, from: is.body.end as string };
}

const forbidden = (res: { status: number; body: Ev }) => {
  expect(res.status).toBe(403);
  expect(res.body.errcode).toBe('M_FORBIDDEN');
};

describe('presence', () => {
  it('PUT own status; members sharing a room see it in GET, /events and initialSync', async () => {
    const { alice, bob, from } = await pair();
    const put = await request(srv.baseUrl, 'PUT', `${V1}/presence/${enc(alice.userId)}/status`,
      { token: alice.accessToken, body: { presence: 'unavailable', status_msg: 'Out to lunch' } });
    expect(put).toMatchObject({ status: 200, body: {} });
    const got = await request(srv.baseUrl, 'GET', `${V1}/presence/${enc(alice.userId)}/status`, { token: bob.accessToken });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ presence: 'unavailable', status_msg: 'Out to lunch' });
    expect(typeof got.body.last_active_ago).toBe('number');

    const seen = await follow(srv.baseUrl, bob, from, (all) => all.some((e) => e.type === 'm.presence' && (e as Ev).content.user_id === alice.userId));
    const ev = seen.all.find((e) => e.type === 'm.presence' && (e as Ev).content.user_id === alice.userId) as Ev;
    expect(ev.content).toMatchObject({ presence: 'unavailable', status_msg: 'Out to lunch' });

    const is = await initialSync(srv.baseUrl, bob);
    const p = (is.body.presence as Ev[]).find((e) => e.content.user_id === alice.userId);
    expect(p?.content.presence).toBe('unavailable');
  });

  it('a PUT without status_msg clears it; a bad state is 400', async () => {
    const alice = await register(srv.baseUrl);
    const url = `${V1}/presence/${enc(alice.userId)}/status`;
    await request(srv.baseUrl, 'PUT', url, { token: alice.accessToken, body: { presence: 'online', status_msg: 'hi' } });
    await request(srv.baseUrl, 'PUT', url, { token: alice.accessToken, body: { presence: 'online' } });
    const got = await request(srv.baseUrl, 'GET', url, { token: alice.accessToken });
    expect(got.body.presence).toBe('online');
    expect(got.body.status_msg).toBeUndefined();
    const bad = await request(srv.baseUrl, 'PUT', url, { token: alice.accessToken, body: { presence: 'asleep' } });
    expect(bad.status).toBe(400);
  });

  it('a user may set only their own presence; strangers may not read it; unknown users are 404', async () => {
    const alice = await register(srv.baseUrl);
    const mallory = await register(srv.baseUrl);
    forbidden(await request(srv.baseUrl, 'PUT', `${V1}/presence/${enc(alice.userId)}/status`,
      { token: mallory.accessToken, body: { presence: 'offline' } }));
    forbidden(await request(srv.baseUrl, 'GET', `${V1}/presence/${enc(alice.userId)}/status`, { token: mallory.accessToken }));
    const self = await request(srv.baseUrl, 'GET', `${V1}/presence/${enc(alice.userId)}/status`, { token: alice.accessToken });
    expect(self).toMatchObject({ status: 200, body: { presence: 'offline' } });
    const unknown = await request(srv.baseUrl, 'GET', `${V1}/presence/${enc('@ghost:localhost')}/status`, { token: alice.accessToken });
    expect(unknown.status).toBe(404);
  });

  it('presence lists: invite and drop, read own list only, change own list only', async () => {
    const alice = await register(srv.baseUrl);
    const bob = await register(srv.baseUrl);
    const carol = await register(srv.baseUrl);
    await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(bob.userId)}/displayname`, { token: bob.accessToken, body: { displayname: 'Bob' } });
    await request(srv.baseUrl, 'PUT', `${V1}/presence/${enc(bob.userId)}/status`, { token: bob.accessToken, body: { presence: 'online' } });
    const list = `${V1}/presence/list/${enc(alice.userId)}`;
    expect((await request(srv.baseUrl, 'POST', list, { token: alice.accessToken, body: { invite: [bob.userId, carol.userId] } })).status).toBe(200);
    const got = await request<Ev[]>(srv.baseUrl, 'GET', list, { token: alice.accessToken });
    expect(got.status).toBe(200);
    expect(got.body.map((e) => [e.type, e.content.user_id, e.content.presence])).toEqual([
      ['m.presence', bob.userId, 'online'], ['m.presence', carol.userId, 'offline']]);
    expect(got.body[0]!.content.displayname).toBe('Bob');
    // On the list, bob's presence may be read without sharing a room.
    expect((await request(srv.baseUrl, 'GET', `${V1}/presence/${enc(bob.userId)}/status`, { token: alice.accessToken })).status).toBe(200);
    await request(srv.baseUrl, 'POST', list, { token: alice.accessToken, body: { drop: [carol.userId] } });
    expect((await request<Ev[]>(srv.baseUrl, 'GET', list, { token: alice.accessToken })).body.map((e) => e.content.user_id)).toEqual([bob.userId]);

    forbidden(await request(srv.baseUrl, 'GET', list, { token: bob.accessToken }));
    forbidden(await request(srv.baseUrl, 'POST', list, { token: bob.accessToken, body: { drop: [bob.userId] } }));
    const unknown = await request(srv.baseUrl, 'POST', list, { token: alice.accessToken, body: { invite: ['@ghost:localhost'] } });
    expect(unknown.status).toBe(404);
    const bad = await request(srv.baseUrl, 'POST', list, { token: alice.accessToken, body: { invite: ['not-a-user'] } });
    expect(bad.status).toBe(400);
  });

  it('idle goes unavailable, then offline, after the configured times; polling /events counts as online', async () => {
    const quick = await startServer({ config: { presence: { idle_after: '300ms', offline_after: '700ms' } } });
    try {
      quick.hs.context.streams.presence.configure({ sweepIntervalMs: 50 });
      const alice = await register(quick.baseUrl);
      const url = `${V1}/presence/${enc(alice.userId)}/status`;
      const state = async () => (await request(quick.baseUrl, 'GET', url, { token: alice.accessToken })).body.presence;
      await request(quick.baseUrl, 'PUT', url, { token: alice.accessToken, body: { presence: 'online' } });
      expect(await state()).toBe('online');
      await new Promise((r) => setTimeout(r, 450));
      expect(await state()).toBe('unavailable');
      await new Promise((r) => setTimeout(r, 600));
      expect(await state()).toBe('offline');

      // A poll brings an offline user back online, and keeps them from going offline.
      const poll = events(quick.baseUrl, alice, { timeout: 1200 });
      await new Promise((r) => setTimeout(r, 150));
      expect(await state()).toBe('online');
      await poll;
      expect(await state()).not.toBe('offline');
      expect(quick.specViolations()).toEqual([]);
    } finally {
      await quick.close();
    }
  });
});

describe('typing', () => {
  it('reaches the room\'s members as m.typing, and expires by itself', async () => {
    const { alice, bob, roomId, from } = await pair();
    const put = await request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`,
      { token: alice.accessToken, body: { typing: true, timeout: 300 } });
    expect(put).toMatchObject({ status: 200, body: {} });
    const started = await follow(srv.baseUrl, bob, from, (all) => all.some((e) => e.type === 'm.typing'));
    const typing = started.all.find((e) => e.type === 'm.typing') as Ev;
    expect(typing).toEqual({ type: 'm.typing', room_id: roomId, content: { user_ids: [alice.userId] } });
    const stopped = await follow(srv.baseUrl, bob, started.end, (all) => all.some((e) => e.type === 'm.typing'));
    expect((stopped.all.find((e) => e.type === 'm.typing') as Ev).content.user_ids).toEqual([]);
  });

  it('only for oneself (M_FORBIDDEN), and only in a room one is joined to', async () => {
    const { alice, bob, roomId } = await pair();
    forbidden(await request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`,
      { token: bob.accessToken, body: { typing: true, timeout: 1000 } }));
    const outsider = await register(srv.baseUrl);
    forbidden(await request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(roomId)}/typing/${enc(outsider.userId)}`,
      { token: outsider.accessToken, body: { typing: true, timeout: 1000 } }));
    const missing = await request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { token: alice.accessToken, body: {} });
    expect(missing.status).toBe(400);
  });
});

describe('receipts', () => {
  it('reach the members as m.receipt in /events and initialSync', async () => {
    const { alice, bob, roomId, from } = await pair();
    const eventId = await send(srv.baseUrl, bob, roomId, 'read me');
    const res = await request(srv.baseUrl, 'POST', `${V2}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { token: alice.accessToken, body: {} });
    expect(res).toMatchObject({ status: 200, body: {} });
    const seen = await follow(srv.baseUrl, bob, from, (all) => all.some((e) => e.type === 'm.receipt'));
    const receipt = seen.all.find((e) => e.type === 'm.receipt') as Ev;
    expect(receipt.room_id).toBe(roomId);
    expect(typeof receipt.content[eventId]['m.read'][alice.userId].ts).toBe('number');
    const is = await initialSync(srv.baseUrl, bob);
    const r = (is.body.receipts as Ev[]).find((e) => e.room_id === roomId);
    expect(r?.content[eventId]['m.read'][alice.userId]).toBeDefined();
  });

  it('members only, known events only, m.read only', async () => {
    const { alice, roomId } = await pair();
    const eventId = await send(srv.baseUrl, alice, roomId, 'x');
    const outsider = await register(srv.baseUrl);
    forbidden(await request(srv.baseUrl, 'POST', `${V2}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { token: outsider.accessToken, body: {} }));
    const unknown = await request(srv.baseUrl, 'POST', `${V2}/rooms/${enc(roomId)}/receipt/m.read/${enc('$nope:localhost')}`, { token: alice.accessToken, body: {} });
    expect(unknown.status).toBe(404);
    const badType = await request(srv.baseUrl, 'POST', `${V2}/rooms/${enc(roomId)}/receipt/m.seen/${enc(eventId)}`, { token: alice.accessToken, body: {} });
    expect(badType.status).toBe(400);
  });
});

describe('account data and tags', () => {
  it('global and room account data show up in /events and initialSync, for their owner only', async () => {
    const { alice, bob, roomId } = await pair();
    const start = (await initialSync(srv.baseUrl, alice)).body.end as string;
    const global = await request(srv.baseUrl, 'PUT', `${V2}/user/${enc(alice.userId)}/account_data/org.example.config`,
      { token: alice.accessToken, body: { theme: 'dark' } });
    expect(global).toMatchObject({ status: 200, body: {} });
    const perRoom = await request(srv.baseUrl, 'PUT', `${V2}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`,
      { token: alice.accessToken, body: { colour: 'red' } });
    expect(perRoom.status).toBe(200);
    const seen = await follow(srv.baseUrl, alice, start, (all) => all.filter((e) => String(e.type).startsWith('org.example.')).length >= 2);
    expect(seen.all.find((e) => e.type === 'org.example.config')).toEqual({ type: 'org.example.config', content: { theme: 'dark' } });
    expect(seen.all.find((e) => e.type === 'org.example.room')).toEqual({ type: 'org.example.room', content: { colour: 'red' }, room_id: roomId });

    const is = await initialSync(srv.baseUrl, alice);
    expect(is.body.account_data).toContainEqual({ type: 'org.example.config', content: { theme: 'dark' } });
    const room = (is.body.rooms as Ev[]).find((r) => r.room_id === roomId)!;
    expect(room.account_data).toContainEqual({ type: 'org.example.room', content: { colour: 'red' } });
    // Not bob's.
    const bobs = await initialSync(srv.baseUrl, bob);
    expect((bobs.body.account_data as Ev[]).some((e) => e.type === 'org.example.config')).toBe(false);
  });

  it('a user may write only their own account data (M_FORBIDDEN); a bad room id is 400', async () => {
    const { alice, bob, roomId } = await pair();
    forbidden(await request(srv.baseUrl, 'PUT', `${V2}/user/${enc(alice.userId)}/account_data/org.example.x`, { token: bob.accessToken, body: { a: 1 } }));
    forbidden(await request(srv.baseUrl, 'PUT', `${V2}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/org.example.x`,
      { token: bob.accessToken, body: { a: 1 } }));
    const badRoom = await request(srv.baseUrl, 'PUT', `${V2}/user/${enc(alice.userId)}/rooms/not-a-room/account_data/org.example.x`,
      { token: alice.accessToken, body: { a: 1 } });
    expect(badRoom.status).toBe(400);
    const notObject = await request(srv.baseUrl, 'PUT', `${V2}/user/${enc(alice.userId)}/account_data/org.example.x`, { token: alice.accessToken, body: [1] });
    expect(notObject.status).toBe(400);
  });

  it('tags: PUT, GET, DELETE; they are the room\'s m.tag account data in initialSync and /events', async () => {
    const { alice, roomId } = await pair();
    const start = (await initialSync(srv.baseUrl, alice)).body.end as string;
    const base = `${V2}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`;
    expect((await request(srv.baseUrl, 'GET', base, { token: alice.accessToken })).body).toEqual({ tags: {} });
    expect((await request(srv.baseUrl, 'PUT', `${base}/work`, { token: alice.accessToken, body: { order: 0.5 } })).status).toBe(200);
    expect((await request(srv.baseUrl, 'PUT', `${base}/pinned`, { token: alice.accessToken, body: {} })).status).toBe(200);
    expect((await request(srv.baseUrl, 'GET', base, { token: alice.accessToken })).body).toEqual({ tags: { work: { order: 0.5 }, pinned: {} } });

    const seen = await follow(srv.baseUrl, alice, start, (all) => all.some((e) => e.type === 'm.tag' && Object.keys((e as Ev).content.tags).length === 2));
    expect(seen.all.filter((e) => e.type === 'm.tag').at(-1)).toEqual({ type: 'm.tag', content: { tags: { work: { order: 0.5 }, pinned: {} } }, room_id: roomId });
    const is = await initialSync(srv.baseUrl, alice);
    const room = (is.body.rooms as Ev[]).find((r) => r.room_id === roomId)!;
    expect(room.account_data[0]).toEqual({ type: 'm.tag', content: { tags: { work: { order: 0.5 }, pinned: {} } } });

    expect((await request(srv.baseUrl, 'DELETE', `${base}/work`, { token: alice.accessToken })).status).toBe(200);
    expect((await request(srv.baseUrl, 'DELETE', `${base}/never-there`, { token: alice.accessToken })).status).toBe(200);
    expect((await request(srv.baseUrl, 'GET', base, { token: alice.accessToken })).body).toEqual({ tags: { pinned: {} } });
    const after = await follow(srv.baseUrl, alice, seen.end, (all) => all.some((e) => e.type === 'm.tag'));
    expect(after.all.filter((e) => e.type === 'm.tag').at(-1)!.content).toEqual({ tags: { pinned: {} } });
  });

  it('a user may read and write only their own tags (M_FORBIDDEN)', async () => {
    const { alice, bob, roomId } = await pair();
    const base = `${V2}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`;
    forbidden(await request(srv.baseUrl, 'GET', base, { token: bob.accessToken }));
    forbidden(await request(srv.baseUrl, 'PUT', `${base}/work`, { token: bob.accessToken, body: {} }));
    forbidden(await request(srv.baseUrl, 'DELETE', `${base}/work`, { token: bob.accessToken }));
  });
});

describe('directory visibility', () => {
  it('initialSync\'s visibility agrees with /publicRooms', async () => {
    const alice = await register(srv.baseUrl);
    const pub = await createRoom(srv.baseUrl, alice, { visibility: 'public' });
    const priv = await createRoom(srv.baseUrl, alice, { visibility: 'private', preset: 'public_chat' });
    const listed = (await request<{ chunk: Ev[] }>(srv.baseUrl, 'GET', `${V1}/publicRooms`)).body.chunk.map((r) => r.room_id);
    const is = await initialSync(srv.baseUrl, alice);
    for (const roomId of [pub, priv]) {
      const room = (is.body.rooms as Ev[]).find((r) => r.room_id === roomId)!;
      expect(room.visibility).toBe(listed.includes(roomId) ? 'public' : 'private');
    }
    expect(listed).toContain(pub);
    expect(listed).not.toContain(priv);
  });
});
