import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { V1, type Account, type TestServer } from '../helpers/index.js';
import { publicRoomWith, room, roomApi, startRoomServer, storedTimeline, streamPosition, type ErrorBody } from './util.js';

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

const UNKNOWN_ROOM = '!doesnotexist:localhost';
const errcode = (res: { body: unknown }): string => (res.body as ErrorBody).errcode;
const users = (n: number): Promise<Account[]> => Promise.all(Array.from({ length: n }, () => api.register()));

describe('join', () => {
  it('by id, through both endpoints: answers {room_id}, and the join is in the state when 200 comes back', async () => {
    const [alice, bob, carol] = await users(3);
    const roomId = await api.createRoom(alice!, { preset: 'public_chat' });
    const byId = await api.joinById(bob!, roomId);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual({ room_id: roomId });
    expect(await api.membershipOf(alice!, roomId, bob!.userId)).toBe('join');
    const viaJoin = await api.join(carol!, roomId);
    expect(viaJoin.body).toEqual({ room_id: roomId });
    expect(await api.membershipOf(alice!, roomId, carol!.userId)).toBe('join');
  });

  it('by alias: answers the room id', async () => {
    const [alice, bob] = await users(2);
    const alias = `j${process.pid}${Date.now()}`;
    const roomId = await api.createRoom(alice!, { preset: 'public_chat', room_alias_name: alias });
    const res = await api.join(bob!, `#${alias}:localhost`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: roomId });
    expect(await api.membershipOf(bob!, roomId, bob!.userId)).toBe('join');
  });

  it('joining again while joined succeeds and stores nothing', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    const before = (await storedTimeline(srv, roomId)).length;
    expect((await api.join(bob!, roomId)).status).toBe(200);
    expect((await storedTimeline(srv, roomId)).length).toBe(before);
  });

  it.each([
    ['unknown room id, /rooms/{id}/join', (a: Account) => api.joinById(a, UNKNOWN_ROOM), 404, 'M_NOT_FOUND'],
    ['unknown room id, /join/{id}', (a: Account) => api.join(a, UNKNOWN_ROOM), 404, 'M_NOT_FOUND'],
    ['unknown alias', (a: Account) => api.join(a, '#nowhere:localhost'), 404, 'M_NOT_FOUND'],
    ['neither id nor alias', (a: Account) => api.join(a, 'lobby'), 400, 'M_INVALID_PARAM'],
  ])('%s', async (_name, call, status, code) => {
    const [a] = await users(1);
    const res = await call(a!);
    expect(res.status).toBe(status);
    expect(errcode(res)).toBe(code);
  });

  it('invite-only room without an invite: 403, and nothing stored', async () => {
    const [alice, bob] = await users(2);
    const roomId = await api.createRoom(alice!, { preset: 'private_chat' });
    const before = await streamPosition(srv);
    const res = await api.join(bob!, roomId);
    expect(res.status).toBe(403);
    expect(errcode(res)).toBe('M_FORBIDDEN');
    expect(await streamPosition(srv)).toBe(before);
    expect((await api.joinById(bob!, roomId)).status).toBe(403);
  });

  it('no access token: 401', async () => {
    const [alice] = await users(1);
    const roomId = await api.createRoom(alice!, { preset: 'public_chat' });
    const res = await api.call('POST', `${V1}/join/${encodeURIComponent(roomId)}`, undefined, {});
    expect(res.status).toBe(401);
  });
});

describe('invite', () => {
  it('a member invites; the invitee joins the invite-only room', async () => {
    const [alice, bob] = await users(2);
    const roomId = await api.createRoom(alice!, { preset: 'private_chat' });
    const res = await api.invite(alice!, roomId, bob!.userId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const ev = await api.stateEvent(alice!, roomId, 'm.room.member', bob!.userId);
    expect(ev).toMatchObject({ sender: alice!.userId, state_key: bob!.userId, content: { membership: 'invite' } });
    expect((await api.join(bob!, roomId)).status).toBe(200);
    expect(await api.membershipOf(alice!, roomId, bob!.userId)).toBe('join');
  });

  it.each([
    ['the inviter is not in the room', 'outsider', 403, 'M_FORBIDDEN'],
    ['the invitee is already joined', 'joined', 403, 'M_FORBIDDEN'],
    ['the invitee is banned', 'banned', 403, 'M_FORBIDDEN'],
    ['the inviter lacks the invite level', 'lowlevel', 403, 'M_FORBIDDEN'],
    ['the invitee does not exist', 'ghost', 404, 'M_NOT_FOUND'],
    ['the invitee is not a user id', 'garbage', 400, 'M_INVALID_PARAM'],
    ['the room is unknown', 'noroom', 404, 'M_NOT_FOUND'],
  ])('%s', async (_name, scenario, status, code) => {
    const [alice, bob, carol, dave] = await users(4);
    const roomId = await publicRoomWith(api, alice!, bob!);
    let inviter = alice!;
    let target = dave!.userId;
    let inRoom = roomId;
    if (scenario === 'outsider') inviter = carol!;
    if (scenario === 'joined') target = bob!.userId;
    if (scenario === 'banned') expect((await api.ban(alice!, roomId, dave!.userId)).status).toBe(200);
    if (scenario === 'lowlevel') {
      await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, invite: 50 }));
      inviter = bob!;
    }
    if (scenario === 'ghost') target = '@ghost_of_nobody:localhost';
    if (scenario === 'garbage') target = 'not-a-user';
    if (scenario === 'noroom') inRoom = UNKNOWN_ROOM;
    const before = await streamPosition(srv);
    const res = await api.invite(inviter, inRoom, target);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(errcode(res)).toBe(code);
    expect(await streamPosition(srv)).toBe(before);
  });

  it('a missing user_id: 400', async () => {
    const [alice] = await users(1);
    const roomId = await api.createRoom(alice!, {});
    const res = await api.call('POST', `${room(roomId)}/invite`, alice!.accessToken, {});
    expect(res.status).toBe(400);
  });
});

describe('leave, rejecting an invite, forget', () => {
  it('a member leaves: membership leave, and can no longer send', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    const res = await api.leave(bob!, roomId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(await api.membershipOf(alice!, roomId, bob!.userId)).toBe('leave');
    expect((await api.send(bob!, roomId, 'm.room.message', { msgtype: 'm.text', body: 'x' })).status).toBe(403);
  });

  it('an invitee rejects the invite by leaving', async () => {
    const [alice, bob] = await users(2);
    const roomId = await api.createRoom(alice!, { invite: [bob!.userId] });
    expect((await api.leave(bob!, roomId)).status).toBe(200);
    const ev = await api.stateEvent(alice!, roomId, 'm.room.member', bob!.userId);
    expect(ev).toMatchObject({ sender: bob!.userId, content: { membership: 'leave' }, prev_content: { membership: 'invite' } });
    expect((await api.join(bob!, roomId)).status).toBe(403);
  });

  it.each([
    ['never in the room', 'never', 403, 'M_FORBIDDEN'],
    ['already left', 'left', 403, 'M_FORBIDDEN'],
    ['the room is unknown', 'noroom', 404, 'M_NOT_FOUND'],
  ])('leave when %s: %s', async (_name, scenario, status, code) => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!);
    if (scenario === 'left') {
      expect((await api.join(bob!, roomId)).status).toBe(200);
      expect((await api.leave(bob!, roomId)).status).toBe(200);
    }
    const res = await api.leave(bob!, scenario === 'noroom' ? UNKNOWN_ROOM : roomId);
    expect(res.status).toBe(status);
    expect(errcode(res)).toBe(code);
  });

  it('forget after leaving: 200; the room still reads as of the leave', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    expect((await api.leave(bob!, roomId)).status).toBe(200);
    const res = await api.forget(bob!, roomId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await api.call('GET', `${room(roomId)}/state`, bob!.accessToken)).status).toBe(200);
    // forgetting twice is harmless
    expect((await api.forget(bob!, roomId)).status).toBe(200);
  });

  it('forget after being banned: 200', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    expect((await api.ban(alice!, roomId, bob!.userId)).status).toBe(200);
    expect((await api.forget(bob!, roomId)).status).toBe(200);
  });

  it.each([
    ['still joined', 'joined', 400, 'M_UNKNOWN'],
    ['only invited', 'invited', 400, 'M_UNKNOWN'],
    ['never in the room', 'never', 404, 'M_NOT_FOUND'],
    ['the room is unknown', 'noroom', 404, 'M_NOT_FOUND'],
  ])('forget when %s: %s', async (_name, scenario, status, code) => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!);
    if (scenario === 'joined') expect((await api.join(bob!, roomId)).status).toBe(200);
    if (scenario === 'invited') expect((await api.invite(alice!, roomId, bob!.userId)).status).toBe(200);
    const res = await api.forget(bob!, scenario === 'noroom' ? UNKNOWN_ROOM : roomId);
    expect(res.status).toBe(status);
    expect(errcode(res)).toBe(code);
  });
});

describe('kick', () => {
  it('a moderator kicks a member, with a reason; the kicked user may rejoin a public room', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    const res = await api.kick(alice!, roomId, bob!.userId, 'spam');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const ev = await api.stateEvent(alice!, roomId, 'm.room.member', bob!.userId);
    expect(ev).toMatchObject({ sender: alice!.userId, content: { membership: 'leave', reason: 'spam' } });
    expect((await api.join(bob!, roomId)).status).toBe(200);
  });

  it('kicking an invited user withdraws the invite', async () => {
    const [alice, bob] = await users(2);
    const roomId = await api.createRoom(alice!, { invite: [bob!.userId] });
    expect((await api.kick(alice!, roomId, bob!.userId)).status).toBe(200);
    expect(await api.membershipOf(alice!, roomId, bob!.userId)).toBe('leave');
    expect((await api.join(bob!, roomId)).status).toBe(403);
  });

  it.each([
    ['the target is not in the room', 'absent', 403, 'M_FORBIDDEN'],
    ['the kicker lacks the kick level', 'lowlevel', 403, 'M_FORBIDDEN'],
    ['the kicker\'s level equals the target\'s', 'equal', 403, 'M_FORBIDDEN'],
    ['the kicker\'s level is below the target\'s', 'below', 403, 'M_FORBIDDEN'],
    ['the kicker is not in the room', 'outsider', 403, 'M_FORBIDDEN'],
    ['the room is unknown', 'noroom', 404, 'M_NOT_FOUND'],
  ])('%s', async (_name, scenario, status, code) => {
    const [alice, bob, carol, dave] = await users(4);
    const roomId = await publicRoomWith(api, alice!, bob!, carol!);
    let kicker = bob!;
    let target = carol!.userId;
    let inRoom = roomId;
    if (scenario === 'absent') { kicker = alice!; target = dave!.userId; }
    if (scenario === 'equal') await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, users: { ...(pl['users'] as object), [bob!.userId]: 60, [carol!.userId]: 60 } }));
    if (scenario === 'below') await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, users: { ...(pl['users'] as object), [bob!.userId]: 60, [carol!.userId]: 70 } }));
    if (scenario === 'outsider') { kicker = dave!; }
    if (scenario === 'noroom') { kicker = alice!; inRoom = UNKNOWN_ROOM; }
    const before = await streamPosition(srv);
    const res = await api.kick(kicker, inRoom, target);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(errcode(res)).toBe(code);
    expect(await streamPosition(srv)).toBe(before);
  });

  it('a level strictly above the target\'s and the kick level suffices', async () => {
    const [alice, bob, carol] = await users(3);
    const roomId = await publicRoomWith(api, alice!, bob!, carol!);
    await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, kick: 40, users: { ...(pl['users'] as object), [bob!.userId]: 40, [carol!.userId]: 39 } }));
    expect((await api.kick(bob!, roomId, carol!.userId)).status).toBe(200);
  });
});

describe('ban and unban', () => {
  it('ban: the target cannot join until unbanned; unban leaves them out but free to join', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    const ban = await api.ban(alice!, roomId, bob!.userId, 'rude');
    expect(ban.status).toBe(200);
    expect(ban.body).toEqual({});
    expect(await api.stateEvent(alice!, roomId, 'm.room.member', bob!.userId)).toMatchObject({ content: { membership: 'ban', reason: 'rude' } });
    const join = await api.join(bob!, roomId);
    expect(join.status).toBe(403);
    expect(errcode(join)).toBe('M_FORBIDDEN');
    expect((await api.send(bob!, roomId, 'm.room.message', { msgtype: 'm.text', body: 'x' })).status).toBe(403);
    const unban = await api.unban(alice!, roomId, bob!.userId);
    expect(unban.status).toBe(200);
    expect(unban.body).toEqual({});
    expect(await api.membershipOf(alice!, roomId, bob!.userId)).toBe('leave');
    expect((await api.join(bob!, roomId)).status).toBe(200);
  });

  it('a user who never joined can be banned', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!);
    expect((await api.ban(alice!, roomId, bob!.userId)).status).toBe(200);
    expect((await api.join(bob!, roomId)).status).toBe(403);
  });

  it('a banned user cannot leave their ban behind by leaving', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    expect((await api.ban(alice!, roomId, bob!.userId)).status).toBe(200);
    expect((await api.leave(bob!, roomId)).status).toBe(403);
    expect(await api.membershipOf(alice!, roomId, bob!.userId)).toBe('ban');
  });

  it.each([
    ['ban: the banner lacks the ban level', 'ban', 'lowlevel', 403, 'M_FORBIDDEN'],
    ['ban: the banner\'s level equals the target\'s', 'ban', 'equal', 403, 'M_FORBIDDEN'],
    ['ban: the banner is not in the room', 'ban', 'outsider', 403, 'M_FORBIDDEN'],
    ['ban: the room is unknown', 'ban', 'noroom', 404, 'M_NOT_FOUND'],
    ['ban: a missing user_id', 'ban', 'nouser', 400, undefined],
    ['unban: the target is not banned', 'unban', 'notbanned', 403, 'M_FORBIDDEN'],
    ['unban: the unbanner lacks the ban level', 'unban', 'lowlevel', 403, 'M_FORBIDDEN'],
    ['unban: the room is unknown', 'unban', 'noroom', 404, 'M_NOT_FOUND'],
    ['unban: a missing user_id', 'unban', 'nouser', 400, undefined],
  ])('%s', async (_name, op, scenario, status, code) => {
    const [alice, bob, carol, dave] = await users(4);
    const roomId = await publicRoomWith(api, alice!, bob!, carol!);
    let actor = bob!;
    let target = carol!.userId;
    let inRoom = roomId;
    if (op === 'unban' && scenario !== 'notbanned') expect((await api.ban(alice!, roomId, carol!.userId)).status).toBe(200);
    if (scenario === 'equal') await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, users: { ...(pl['users'] as object), [bob!.userId]: 60, [carol!.userId]: 60 } }));
    if (scenario === 'notbanned') actor = alice!;
    if (scenario === 'outsider') actor = dave!;
    if (scenario === 'noroom') { actor = alice!; inRoom = UNKNOWN_ROOM; }
    const before = await streamPosition(srv);
    const res = scenario === 'nouser'
      ? await api.call('POST', `${room(roomId)}/${op}`, alice!.accessToken, {})
      : op === 'ban' ? await api.ban(actor, inRoom, target) : await api.unban(actor, inRoom, target);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    if (code) expect(errcode(res)).toBe(code);
    expect(await streamPosition(srv)).toBe(before);
  });
});

describe('membership through PUT /state/m.room.member/{userId} obeys the same rules', () => {
  const member = (a: Account, roomId: string, target: string, content: unknown) => api.putState(a, roomId, 'm.room.member', target, content);

  it('join oneself to a public room: 200, a join', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!);
    const res = await member(bob!, roomId, bob!.userId, { membership: 'join' });
    expect(res.status).toBe(200);
    expect(res.body['event_id']).toMatch(/^\$.+:localhost$/);
    expect(await api.membershipOf(alice!, roomId, bob!.userId)).toBe('join');
  });

  it.each([
    ['join an invite-only room uninvited', 'private', 'self', 'join', 403],
    ['join someone else', 'public', 'other', 'join', 403],
    ['invite without the invite level', 'public-invite50', 'other', 'invite', 403],
    ['invite while not in the room', 'public-outsider', 'other', 'invite', 403],
    ['ban without the ban level', 'public', 'member', 'ban', 403],
    ['kick without the kick level', 'public', 'member', 'leave', 403],
    ['join while banned', 'public-banned', 'self', 'join', 403],
    ['an unknown membership value', 'public', 'self', 'dance', 400],
    ['a state key that is not a user id', 'public', 'garbage', 'join', 400],
  ])('%s', async (_name, setup, whom, membership, status) => {
    const [alice, bob, carol, dave] = await users(4);
    const roomId = await api.createRoom(alice!, { preset: setup === 'private' ? 'private_chat' : 'public_chat' });
    expect((await api.join(carol!, roomId)).status).toBe(setup === 'private' ? 403 : 200);
    if (setup !== 'private' && setup !== 'public-outsider' && setup !== 'public-banned') expect((await api.join(bob!, roomId)).status).toBe(200);
    if (setup === 'public-invite50') await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, invite: 50 }));
    if (setup === 'public-banned') expect((await api.ban(alice!, roomId, bob!.userId)).status).toBe(200);
    const target = whom === 'self' ? bob!.userId : whom === 'member' ? carol!.userId : whom === 'other' ? dave!.userId : 'nobody';
    const before = await streamPosition(srv);
    const res = await member(bob!, roomId, target, { membership });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(errcode(res)).toBe(status === 403 ? 'M_FORBIDDEN' : 'M_BAD_JSON');
    expect(await streamPosition(srv)).toBe(before);
  });

  it('invite, kick and ban through the state API work for those allowed', async () => {
    const [alice, bob, carol] = await users(3);
    const roomId = await publicRoomWith(api, alice!, bob!);
    expect((await member(alice!, roomId, carol!.userId, { membership: 'invite' })).status).toBe(200);
    expect(await api.membershipOf(alice!, roomId, carol!.userId)).toBe('invite');
    expect((await member(alice!, roomId, bob!.userId, { membership: 'leave' })).status).toBe(200);
    expect(await api.membershipOf(alice!, roomId, bob!.userId)).toBe('leave');
    expect((await member(alice!, roomId, bob!.userId, { membership: 'ban' })).status).toBe(200);
    expect((await api.join(bob!, roomId)).status).toBe(403);
  });

  it('on an unknown room: 404', async () => {
    const [alice] = await users(1);
    const res = await member(alice!, UNKNOWN_ROOM, alice!.userId, { membership: 'join' });
    expect(res.status).toBe(404);
    expect(errcode(res)).toBe('M_NOT_FOUND');
  });
});
