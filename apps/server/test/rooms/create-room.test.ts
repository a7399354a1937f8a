import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account, TestServer } from '../helpers/index.js';
import { roomApi, startRoomServer, storedTimeline, type ErrorBody } from './util.js';

let srv: TestServer;
let api: ReturnType<typeof roomApi>;
let alice: Account;
let bob: Account;
let carol: Account;
beforeAll(async () => {
  srv = await startRoomServer();
  api = roomApi(srv);
  [alice, bob, carol] = await Promise.all([api.register(), api.register(), api.register()]);
});
afterAll(async () => {
  expect(srv.specViolations()).toEqual([]);
  await srv.close();
});

/** `type` or `type|state_key` for each stored event, in order. */
async function sequence(roomId: string): Promise<string[]> {
  return (await storedTimeline(srv, roomId)).map((e) => (e.state_key ? `${e.type}|${e.state_key}` : e.type));
}
async function content(roomId: string, type: string, stateKey = ''): Promise<Record<string, unknown> | undefined> {
  const res = await api.getState(alice, roomId, type, stateKey);
  return res.status === 200 ? res.body : undefined;
}

describe('createRoom: the initial events, in order, per preset', () => {
  it('private_chat (and no preset, no visibility)', async () => {
    for (const body of [{ preset: 'private_chat' }, {}, { visibility: 'private' }]) {
      const roomId = await api.createRoom(alice, body);
      expect(await sequence(roomId), JSON.stringify(body)).toEqual([
        'm.room.create', `m.room.member|${alice.userId}`, 'm.room.power_levels', 'm.room.join_rules',
        'm.room.history_visibility', 'm.room.guest_access',
      ]);
      expect(await content(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'invite' });
      expect(await content(roomId, 'm.room.history_visibility')).toEqual({ history_visibility: 'shared' });
      expect(await content(roomId, 'm.room.guest_access')).toEqual({ guest_access: 'can_join' });
    }
  });

  it('public_chat: public join rule, no guest access', async () => {
    const roomId = await api.createRoom(alice, { preset: 'public_chat' });
    expect(await sequence(roomId)).toEqual([
      'm.room.create', `m.room.member|${alice.userId}`, 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility',
    ]);
    expect(await content(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'public' });
  });

  it('trusted_private_chat: invitees get the creator\'s level, then are invited last', async () => {
    const roomId = await api.createRoom(alice, { preset: 'trusted_private_chat', invite: [bob.userId] });
    expect(await sequence(roomId)).toEqual([
      'm.room.create', `m.room.member|${alice.userId}`, 'm.room.power_levels', 'm.room.join_rules',
      'm.room.history_visibility', 'm.room.guest_access', `m.room.member|${bob.userId}`,
    ]);
    const pl = await content(roomId, 'm.room.power_levels');
    expect(pl?.['users']).toEqual({ [alice.userId]: 100, [bob.userId]: 100 });
    expect(await content(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'invite' });
  });

  it('every option: alias, initial_state, name, topic, invites in Synapse\'s order', async () => {
    const alias = `full${process.pid}`;
    const roomId = await api.createRoom(alice, {
      preset: 'private_chat', room_alias_name: alias, name: 'N', topic: 'T', invite: [bob.userId, carol.userId],
      initial_state: [{ type: 'org.example.custom', state_key: 'k', content: { v: 1 } }],
    });
    expect(await sequence(roomId)).toEqual([
      'm.room.create', `m.room.member|${alice.userId}`, 'm.room.power_levels', 'm.room.canonical_alias', 'm.room.join_rules',
      'm.room.history_visibility', 'm.room.guest_access', 'org.example.custom|k', 'm.room.aliases|localhost',
      'm.room.name', 'm.room.topic', `m.room.member|${bob.userId}`, `m.room.member|${carol.userId}`,
    ]);
    expect(await content(roomId, 'm.room.name')).toEqual({ name: 'N' });
    expect(await content(roomId, 'm.room.topic')).toEqual({ topic: 'T' });
    expect(await content(roomId, 'm.room.aliases', 'localhost')).toEqual({ aliases: [`#${alias}:localhost`] });
    expect(await content(roomId, 'm.room.canonical_alias')).toEqual({ alias: `#${alias}:localhost` });
    expect(await content(roomId, 'org.example.custom', 'k')).toEqual({ v: 1 });
    // every event of the plan is sent by the creator
    for (const ev of await storedTimeline(srv, roomId)) expect(ev.sender).toBe(alice.userId);
  });
});

describe('createRoom: visibility and initial_state', () => {
  const joinRuleOf = async (body: Record<string, unknown>) => content(await api.createRoom(alice, body), 'm.room.join_rules');

  it.each([
    ['visibility public, no preset', { visibility: 'public' }, 'public'],
    ['visibility public, preset private_chat', { visibility: 'public', preset: 'private_chat' }, 'invite'],
    ['visibility public, preset trusted_private_chat', { visibility: 'public', preset: 'trusted_private_chat' }, 'invite'],
    ['visibility private, preset public_chat', { visibility: 'private', preset: 'public_chat' }, 'public'],
    ['visibility public, initial_state invite', { visibility: 'public', initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'invite' } }] }, 'invite'],
    ['private_chat, initial_state public', { preset: 'private_chat', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' } }] }, 'public'],
  ])('%s -> %s', async (_name, body, expected) => {
    expect(await joinRuleOf(body)).toEqual({ join_rule: expected });
  });

  it('visibility public: others can join without an invite', async () => {
    const roomId = await api.createRoom(alice, { visibility: 'public' });
    expect((await api.join(bob, roomId)).status).toBe(200);
  });

  it('an initial_state event replaces the preset\'s and is sent in initial_state\'s place, once', async () => {
    const roomId = await api.createRoom(alice, {
      preset: 'public_chat',
      initial_state: [
        { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
        { type: 'm.room.join_rules', content: { join_rule: 'invite' } },
      ],
    });
    expect(await sequence(roomId)).toEqual([
      'm.room.create', `m.room.member|${alice.userId}`, 'm.room.power_levels', 'm.room.history_visibility', 'm.room.join_rules',
    ]);
    expect(await content(roomId, 'm.room.history_visibility')).toEqual({ history_visibility: 'joined' });
    expect(await content(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'invite' });
    expect((await api.join(bob, roomId)).status).toBe(403);
  });

  it('initial_state power_levels replace the default ones; name/topic still come after initial_state', async () => {
    const pl = { users: { [alice.userId]: 100 }, events_default: 10, state_default: 60, ban: 70, kick: 70, redact: 70, invite: 30, events: {} };
    const roomId = await api.createRoom(alice, { preset: 'public_chat', name: 'later', initial_state: [
      { type: 'm.room.power_levels', content: pl },
      { type: 'm.room.name', content: { name: 'initial' } },
    ] });
    expect(await sequence(roomId)).toEqual([
      'm.room.create', `m.room.member|${alice.userId}`, 'm.room.join_rules', 'm.room.history_visibility',
      'm.room.power_levels', 'm.room.name', 'm.room.name',
    ]);
    expect(await content(roomId, 'm.room.power_levels')).toEqual(pl);
    expect(await content(roomId, 'm.room.name')).toEqual({ name: 'later' });
  });
});

describe('createRoom: alias, name, topic, invites, creation_content', () => {
  it('room_alias_name: answers room_alias, and the alias resolves through /join/#alias', async () => {
    const name = `pub${process.pid}`;
    const res = await api.createRoomRaw(alice, { preset: 'public_chat', room_alias_name: name });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: expect.stringMatching(/^!.+:localhost$/), room_alias: `#${name}:localhost` });
    const joined = await api.join(bob, `#${name}:localhost`);
    expect(joined.status).toBe(200);
    expect(joined.body).toEqual({ room_id: res.body['room_id'] });
    expect(await api.membershipOf(bob, res.body['room_id'] as string, bob.userId)).toBe('join');
  });

  it('no room_alias_name: no room_alias key', async () => {
    const res = await api.createRoomRaw(alice, {});
    expect(Object.keys(res.body)).toEqual(['room_id']);
  });

  it('a taken alias: 400 M_ROOM_IN_USE, and no second room is made', async () => {
    const name = `taken${process.pid}`;
    const first = await api.createRoomRaw(alice, { room_alias_name: name, preset: 'public_chat' });
    expect(first.status).toBe(200);
    const before = await srv.hs.context.storage.events.currentStreamOrdering();
    const second = await api.createRoomRaw(bob, { room_alias_name: name, name: 'second' });
    expect(second.status).toBe(400);
    expect((second.body as unknown as ErrorBody).errcode).toBe('M_ROOM_IN_USE');
    expect(await srv.hs.context.storage.events.currentStreamOrdering()).toBe(before);
    expect((await api.join(carol, `#${name}:localhost`)).body).toEqual({ room_id: first.body['room_id'] });
  });

  it('a failed createRoom releases the alias it reserved', async () => {
    const name = `released${process.pid}`;
    const bad = await api.createRoomRaw(alice, { room_alias_name: name, invite: ['@nobody_here:localhost'] });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    const again = await api.createRoomRaw(alice, { room_alias_name: name });
    expect(again.status).toBe(200);
  });

  it('name and topic become m.room.name and m.room.topic', async () => {
    const roomId = await api.createRoom(alice, { name: 'The Pub', topic: 'beer' });
    expect(await content(roomId, 'm.room.name')).toEqual({ name: 'The Pub' });
    expect(await content(roomId, 'm.room.topic')).toEqual({ topic: 'beer' });
    const bare = await api.createRoom(alice, {});
    expect(await content(bare, 'm.room.name')).toBeUndefined();
    expect(await content(bare, 'm.room.topic')).toBeUndefined();
  });

  it('invitees are invited by the creator and can join the invite-only room', async () => {
    const roomId = await api.createRoom(alice, { preset: 'private_chat', invite: [bob.userId] });
    const invite = await api.stateEvent(alice, roomId, 'm.room.member', bob.userId);
    expect(invite).toMatchObject({ sender: alice.userId, content: { membership: 'invite' } });
    expect((await api.join(bob, roomId)).status).toBe(200);
    expect((await api.join(carol, roomId)).status).toBe(403);
  });

  it('creation_content lands in m.room.create; creator is always the caller', async () => {
    const roomId = await api.createRoom(alice, { creation_content: { 'm.federate': false, creator: bob.userId } });
    expect(await content(roomId, 'm.room.create')).toEqual({ 'm.federate': false, creator: alice.userId });
  });

  it('the creator starts at power level 100 and the room is joined', async () => {
    const roomId = await api.createRoom(alice, { preset: 'public_chat' });
    const pl = await content(roomId, 'm.room.power_levels');
    expect((pl?.['users'] as Record<string, number>)[alice.userId]).toBe(100);
    expect(await api.membershipOf(alice, roomId, alice.userId)).toBe('join');
    // and can do what needs 100 right away
    expect((await api.putState(alice, roomId, 'm.room.history_visibility', '', { history_visibility: 'joined' })).status).toBe(200);
  });

  it('the creator\'s join carries their displayname', async () => {
    const dave = await api.register();
    const set = await api.call('PUT', `/_matrix/client/api/v1/profile/${encodeURIComponent(dave.userId)}/displayname`, dave.accessToken, { displayname: 'Dave' });
    const roomId = await api.createRoom(dave, {});
    const join = await api.stateEvent(dave, roomId, 'm.room.member', dave.userId);
    if (set.status === 200) expect(join?.content).toEqual({ membership: 'join', displayname: 'Dave' });
    else expect(join?.content['membership']).toBe('join');
  });
});

describe('createRoom: invalid bodies', () => {
  it.each([
    ['a non-object body', [], ['M_BAD_JSON', 'M_NOT_JSON']],
    ['a string body', '"room"', ['M_BAD_JSON', 'M_NOT_JSON']],
    ['not JSON at all', '{nope', ['M_NOT_JSON']],
    ['an unknown preset', { preset: 'party' }, ['M_BAD_JSON', 'M_INVALID_PARAM']],
    ['an unknown visibility', { visibility: 'hidden' }, ['M_BAD_JSON', 'M_INVALID_PARAM']],
    ['invite not an array', { invite: '@bob:localhost' }, ['M_BAD_JSON', 'M_INVALID_PARAM']],
    ['an invalid user id in invite', { invite: ['bob'] }, ['M_INVALID_PARAM']],
    ['inviting oneself', { invite: ['SELF'] }, ['M_INVALID_PARAM']],
    ['name not a string', { name: 5 }, ['M_BAD_JSON', 'M_INVALID_PARAM']],
    ['room_alias_name with a colon', { room_alias_name: 'a:b' }, ['M_INVALID_PARAM']],
    ['room_alias_name empty', { room_alias_name: '' }, ['M_INVALID_PARAM']],
    ['initial_state entry without content', { initial_state: [{ type: 'm.room.topic' }] }, ['M_BAD_JSON', 'M_MISSING_PARAM']],
    ['initial_state m.room.create', { initial_state: [{ type: 'm.room.create', content: {} }] }, ['M_INVALID_ROOM_STATE', 'M_BAD_JSON']],
    ['initial_state m.room.member', { initial_state: [{ type: 'm.room.member', state_key: '@x:localhost', content: { membership: 'join' } }] }, ['M_INVALID_ROOM_STATE', 'M_BAD_JSON']],
    ['initial_state content invalid for its type', { initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 5 } }] }, ['M_BAD_JSON']],
    ['creation_content not an object', { creation_content: 'x' }, ['M_BAD_JSON', 'M_INVALID_PARAM']],
  ])('%s: 400 and nothing stored', async (_name, body, codes) => {
    const before = await srv.hs.context.storage.events.currentStreamOrdering();
    const sent = JSON.stringify(body) === '{"invite":["SELF"]}' ? { invite: [alice.userId] } : body;
    const res = await api.createRoomRaw(alice, sent);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(codes).toContain((res.body as unknown as ErrorBody).errcode);
    expect(await srv.hs.context.storage.events.currentStreamOrdering()).toBe(before);
  });

  it('inviting an unknown local user: 404 M_NOT_FOUND, nothing stored', async () => {
    const before = await srv.hs.context.storage.events.currentStreamOrdering();
    const res = await api.createRoomRaw(alice, { invite: ['@ghost_user:localhost'] });
    expect(res.status).toBe(404);
    expect((res.body as unknown as ErrorBody).errcode).toBe('M_NOT_FOUND');
    expect(await srv.hs.context.storage.events.currentStreamOrdering()).toBe(before);
  });

  it('no access token: 401', async () => {
    const res = await api.call('POST', '/_matrix/client/api/v1/createRoom', undefined, {});
    expect(res.status).toBe(401);
  });
});
