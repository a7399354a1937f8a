import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Account, type TestServer } from '../helpers/index.js';
import { publicRoomWith, roomApi, startRoomServer, streamPosition, type ErrorBody, type ServedEvent } from './util.js';

let srv: TestServer;
let api: ReturnType<typeof roomApi>;
beforeAll(async () => {
  srv = await startRoomServer();
  api = roomApi(srv);
});
afterAll(async () => {
  expect(srv.specViolations()).toEqual([]);
  await srv.close();
});

const errcode = (res: { body: unknown }): string => (res.body as ErrorBody).errcode;
const users = (n: number): Promise<Account[]> => Promise.all(Array.from({ length: n }, () => api.register()));
const keyed = (evs: ServedEvent[]): string[] => evs.map((e) => `${e.type}|${e.state_key}`).sort();

describe('PUT and GET state', () => {
  it('without a state key: PUT answers {event_id}; GET answers the content', async () => {
    const [alice] = await users(1);
    const roomId = await api.createRoom(alice!, {});
    const put = await api.putState(alice!, roomId, 'm.room.topic', undefined, { topic: 'first' });
    expect(put.status).toBe(200);
    expect(Object.keys(put.body)).toEqual(['event_id']);
    expect(put.body['event_id']).toMatch(/^\$.+:localhost$/);
    const got = await api.getState(alice!, roomId, 'm.room.topic');
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ topic: 'first' });
    // the empty state key is the same slot
    expect((await api.getState(alice!, roomId, 'm.room.topic', '')).body).toEqual({ topic: 'first' });
  });

  it('with a state key: each key is its own slot', async () => {
    const [alice] = await users(1);
    const roomId = await api.createRoom(alice!, {});
    await api.putStateOk(alice!, roomId, 'org.example.slot', 'a', { v: 'A' });
    await api.putStateOk(alice!, roomId, 'org.example.slot', 'b', { v: 'B' });
    expect((await api.getState(alice!, roomId, 'org.example.slot', 'a')).body).toEqual({ v: 'A' });
    expect((await api.getState(alice!, roomId, 'org.example.slot', 'b')).body).toEqual({ v: 'B' });
    const missing = await api.getState(alice!, roomId, 'org.example.slot');
    expect(missing.status).toBe(404);
    expect(errcode(missing)).toBe('M_NOT_FOUND');
  });

  it('a later PUT replaces the state', async () => {
    const [alice] = await users(1);
    const roomId = await api.createRoom(alice!, {});
    await api.putStateOk(alice!, roomId, 'm.room.name', undefined, { name: 'one' });
    await api.putStateOk(alice!, roomId, 'm.room.name', undefined, { name: 'two' });
    expect((await api.getState(alice!, roomId, 'm.room.name')).body).toEqual({ name: 'two' });
  });

  it('the same sender setting the same content again gets the current event back; nothing is stored', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    const first = await api.putStateOk(alice!, roomId, 'org.example.cfg', 'k', { a: 1, b: [1, { c: 2 }] });
    const pos = await streamPosition(srv);
    // same content, keys in another order
    expect(await api.putStateOk(alice!, roomId, 'org.example.cfg', 'k', { b: [1, { c: 2 }], a: 1 })).toBe(first);
    expect(await streamPosition(srv)).toBe(pos);
    // different content, or another sender: a new event
    const changed = await api.putStateOk(alice!, roomId, 'org.example.cfg', 'k', { a: 2, b: [1, { c: 2 }] });
    expect(changed).not.toBe(first);
    await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, state_default: 0 }));
    const byBob = await api.putStateOk(bob!, roomId, 'org.example.cfg', 'k', { a: 2, b: [1, { c: 2 }] });
    expect(byBob).not.toBe(changed);
    // still subject to the auth rules
    await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, state_default: 50 }));
    expect((await api.putState(bob!, roomId, 'org.example.cfg', 'k', { a: 2, b: [1, { c: 2 }] })).status).toBe(403);
  });

  it('missing state: 404 M_NOT_FOUND', async () => {
    const [alice] = await users(1);
    const roomId = await api.createRoom(alice!, {});
    for (const res of [await api.getState(alice!, roomId, 'm.room.topic'), await api.getState(alice!, roomId, 'm.room.member', '@nobody:localhost')]) {
      expect(res.status).toBe(404);
      expect(errcode(res)).toBe('M_NOT_FOUND');
    }
  });

  it.each([
    ['the sender is not in the room', 'outsider', 'm.room.topic', undefined, { topic: 't' }, 403, 'M_FORBIDDEN'],
    ['the sender lacks state_default', 'member', 'org.example.state', 'k', { v: 1 }, 403, 'M_FORBIDDEN'],
    ['the sender lacks the type\'s level', 'member', 'm.room.name', undefined, { name: 'n' }, 403, 'M_FORBIDDEN'],
    ['a state key naming another user', 'member', 'org.example.state', 'OTHER', { v: 1 }, 403, 'M_FORBIDDEN'],
    ['content invalid for the type', 'owner', 'm.room.name', undefined, { name: 5 }, 400, 'M_BAD_JSON'],
    ['content invalid for join_rules', 'owner', 'm.room.join_rules', undefined, { join_rule: ['public'] }, 400, 'M_BAD_JSON'],
    ['the room is unknown', 'noroom', 'm.room.topic', undefined, { topic: 't' }, 404, 'M_NOT_FOUND'],
  ])('PUT refused when %s', async (_name, who, type, stateKey, content, status, code) => {
    const [alice, bob, carol] = await users(3);
    const roomId = await publicRoomWith(api, alice!, bob!);
    const sender = who === 'owner' || who === 'noroom' ? alice! : who === 'member' ? bob! : carol!;
    const key = stateKey === 'OTHER' ? alice!.userId : stateKey;
    const pos = await streamPosition(srv);
    const res = await api.putState(sender, who === 'noroom' ? '!nope:localhost' : roomId, type, key, content);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(errcode(res)).toBe(code);
    expect(await streamPosition(srv)).toBe(pos);
  });

  it('a state key equal to one\'s own user id needs only state_default', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, state_default: 0 }));
    expect((await api.putState(bob!, roomId, 'org.example.mine', bob!.userId, { v: 1 })).status).toBe(200);
    expect((await api.putState(bob!, roomId, 'org.example.mine', alice!.userId, { v: 1 })).status).toBe(403);
  });
});

describe('GET /state and /members', () => {
  it('/state lists every current state event once, with state_key', async () => {
    const [alice, bob] = await users(2);
    const roomId = await api.createRoom(alice!, { preset: 'public_chat', name: 'N' });
    expect((await api.join(bob!, roomId)).status).toBe(200);
    await api.putStateOk(alice!, roomId, 'm.room.name', undefined, { name: 'N2' });
    const res = await api.allState(alice!, roomId);
    expect(res.status).toBe(200);
    expect(keyed(res.body)).toEqual([
      'm.room.create|', 'm.room.history_visibility|', 'm.room.join_rules|', `m.room.member|${alice!.userId}`,
      `m.room.member|${bob!.userId}`, 'm.room.name|', 'm.room.power_levels|',
    ].sort());
    expect(res.body.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'N2' });
    for (const ev of res.body) expect(typeof ev.state_key).toBe('string');
  });

  it('/members lists the member events, invites and leaves included', async () => {
    const [alice, bob, carol, dave] = await users(4);
    const roomId = await publicRoomWith(api, alice!, bob!);
    expect((await api.invite(alice!, roomId, carol!.userId)).status).toBe(200);
    expect((await api.join(dave!, roomId)).status).toBe(200);
    expect((await api.leave(dave!, roomId)).status).toBe(200);
    const res = await api.members(bob!, roomId);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['chunk']);
    const byUser = Object.fromEntries(res.body.chunk.map((e) => [e.state_key, e.content['membership']]));
    expect(byUser).toEqual({ [alice!.userId]: 'join', [bob!.userId]: 'join', [carol!.userId]: 'invite', [dave!.userId]: 'leave' });
    for (const ev of res.body.chunk) expect(ev.type).toBe('m.room.member');
  });

  it.each([
    ['/state', (a: Account, r: string) => api.allState(a, r)],
    ['/members', (a: Account, r: string) => api.members(a, r)],
    ['/state/{type}', (a: Account, r: string) => api.getState(a, r, 'm.room.create')],
    ['/state/{type}/{key}', (a: Account, r: string) => api.getState(a, r, 'm.room.member', a.userId)],
  ])('%s: 403 for a non-member, 403 for an invitee, 404 for an unknown room', async (_name, read) => {
    const [alice, bob, carol] = await users(3);
    const roomId = await api.createRoom(alice!, { preset: 'public_chat', invite: [carol!.userId] });
    const outsider = await read(bob!, roomId);
    expect(outsider.status).toBe(403);
    expect(errcode(outsider)).toBe('M_FORBIDDEN');
    expect((await read(carol!, roomId)).status).toBe(403);
    const unknown = await read(alice!, '!nope:localhost');
    expect(unknown.status).toBe(404);
    expect(errcode(unknown)).toBe('M_NOT_FOUND');
  });

  it('a world_readable room\'s state is readable by anyone', async () => {
    const [alice, bob] = await users(2);
    const roomId = await api.createRoom(alice!, { initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } }], topic: 'open' });
    expect((await api.getState(bob!, roomId, 'm.room.topic')).body).toEqual({ topic: 'open' });
    expect((await api.allState(bob!, roomId)).status).toBe(200);
    expect((await api.members(bob!, roomId)).status).toBe(200);
  });
});

describe('those who left read the state as of their leave', () => {
  it.each([['left', 'leave'], ['kicked', 'leave'], ['banned', 'ban']])('%s', async (how, membership) => {
    const [alice, bob, carol] = await users(3);
    const roomId = await api.createRoom(alice!, { preset: 'public_chat', topic: 'before' });
    expect((await api.join(bob!, roomId)).status).toBe(200);
    if (how === 'left') expect((await api.leave(bob!, roomId)).status).toBe(200);
    if (how === 'kicked') expect((await api.kick(alice!, roomId, bob!.userId)).status).toBe(200);
    if (how === 'banned') expect((await api.ban(alice!, roomId, bob!.userId)).status).toBe(200);
    // after the leave
    await api.putStateOk(alice!, roomId, 'm.room.topic', undefined, { topic: 'after' });
    await api.putStateOk(alice!, roomId, 'm.room.name', undefined, { name: 'new name' });
    expect((await api.join(carol!, roomId)).status).toBe(200);

    expect((await api.getState(bob!, roomId, 'm.room.topic')).body).toEqual({ topic: 'before' });
    expect((await api.getState(bob!, roomId, 'm.room.name')).status).toBe(404);
    expect((await api.getState(bob!, roomId, 'm.room.member', bob!.userId)).body).toMatchObject({ membership });
    const all = await api.allState(bob!, roomId);
    expect(all.status).toBe(200);
    expect(all.body.find((e) => e.type === 'm.room.topic')?.content).toEqual({ topic: 'before' });
    expect(all.body.find((e) => e.type === 'm.room.name')).toBeUndefined();
    const members = await api.members(bob!, roomId);
    expect(members.body.chunk.map((e) => e.state_key).sort()).toEqual([alice!.userId, bob!.userId].sort());
    // the members who stayed see the present
    expect((await api.getState(alice!, roomId, 'm.room.topic')).body).toEqual({ topic: 'after' });
  });

  it('rejoining reads the present again', async () => {
    const [alice, bob] = await users(2);
    const roomId = await api.createRoom(alice!, { preset: 'public_chat', topic: 'before' });
    expect((await api.join(bob!, roomId)).status).toBe(200);
    expect((await api.leave(bob!, roomId)).status).toBe(200);
    await api.putStateOk(alice!, roomId, 'm.room.topic', undefined, { topic: 'after' });
    expect((await api.join(bob!, roomId)).status).toBe(200);
    expect((await api.getState(bob!, roomId, 'm.room.topic')).body).toEqual({ topic: 'after' });
  });
});
