/**
 * Issue 4's auth rules, one table each, exercised over HTTP: alice creates a public room
 * (level 100), bob and carol join, alice sets the power levels of the row, then bob acts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Account, type TestServer } from '../helpers/index.js';
import { roomApi, startRoomServer, streamPosition, type Json } from './util.js';

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

interface Cast { alice: Account; bob: Account; carol: Account; roomId: string }

/** A public room with bob and carol joined; `levels` sets users' levels, `pl` other keys. */
async function setup(levels: { bob?: number; carol?: number } = {}, pl: Json = {}, preset = 'public_chat'): Promise<Cast> {
  const [alice, bob, carol] = await Promise.all([api.register(), api.register(), api.register()]);
  const roomId = await api.createRoom(alice, { preset });
  if (preset === 'public_chat') {
    for (const u of [bob, carol]) expect((await api.join(u, roomId)).status).toBe(200);
  }
  await api.setPowerLevels(alice, roomId, (cur) => ({
    ...cur, ...pl,
    users: { ...(cur['users'] as Json), ...(levels.bob !== undefined ? { [bob.userId]: levels.bob } : {}), ...(levels.carol !== undefined ? { [carol.userId]: levels.carol } : {}) },
  }));
  return { alice, bob, carol, roomId };
}

/** Runs the action and checks its status, and that a refusal stored nothing. */
async function expectOutcome(action: () => Promise<{ status: number; body: Json }>, expected: number): Promise<void> {
  const before = await streamPosition(srv);
  const res = await action();
  expect(res.status, JSON.stringify(res.body)).toBe(expected);
  if (expected === 403) {
    expect(res.body['errcode']).toBe('M_FORBIDDEN');
    expect(await streamPosition(srv)).toBe(before);
  }
}

const MSG = { msgtype: 'm.text', body: 'hi' };

describe('only joined members send', () => {
  it.each([
    ['never a member', 'none', 403],
    ['invited', 'invite', 403],
    ['joined', 'join', 200],
    ['left', 'leave', 403],
    ['kicked', 'kicked', 403],
    ['banned', 'ban', 403],
  ])('%s -> %i', async (_n, membership, expected) => {
    const [alice, dave] = await Promise.all([api.register(), api.register()]);
    const roomId = await api.createRoom(alice, { preset: 'public_chat' });
    if (membership === 'invite') expect((await api.invite(alice, roomId, dave.userId)).status).toBe(200);
    if (['join', 'leave', 'kicked', 'ban'].includes(membership)) expect((await api.join(dave, roomId)).status).toBe(200);
    if (membership === 'leave') expect((await api.leave(dave, roomId)).status).toBe(200);
    if (membership === 'kicked') expect((await api.kick(alice, roomId, dave.userId)).status).toBe(200);
    if (membership === 'ban') expect((await api.ban(alice, roomId, dave.userId)).status).toBe(200);
    await expectOutcome(() => api.send(dave, roomId, 'm.room.message', MSG), expected);
    await expectOutcome(() => api.post(dave, roomId, 'org.example.custom', {}), expected);
    // state needs state_default (50) on top of membership: refused for everyone here
    await expectOutcome(() => api.putState(dave, roomId, 'org.example.state', dave.userId, {}), 403);
  });
});

describe('join rules', () => {
  it.each([
    ['public', false, 200],
    ['public', true, 200],
    ['invite', false, 403],
    ['invite', true, 200],
    ['knock (unsupported in the era)', false, 403],
    ['private', false, 403],
  ])('join_rule %s, invited %s -> %i', async (rule, invited, expected) => {
    const [alice, dave] = await Promise.all([api.register(), api.register()]);
    const joinRule = rule.split(' ')[0]!;
    const roomId = await api.createRoom(alice, { initial_state: [{ type: 'm.room.join_rules', content: { join_rule: joinRule } }] });
    if (invited) expect((await api.invite(alice, roomId, dave.userId)).status).toBe(200);
    await expectOutcome(() => api.join(dave, roomId), expected);
  });
});

describe('invites need membership and the invite level', () => {
  it.each([
    // inviter level, invite level, inviter membership, expected
    [0, 0, 'join', 200],
    [0, 1, 'join', 403],
    [49, 50, 'join', 403],
    [50, 50, 'join', 200],
    [100, 100, 'join', 200],
    [100, 0, 'leave', 403],
    [100, 0, 'none', 403],
  ])('level %i, invite level %i, inviter %s -> %i', async (level, invite, membership, expected) => {
    const c = await setup({ bob: level }, { invite });
    const dave = await api.register();
    if (membership === 'leave') expect((await api.leave(c.bob, c.roomId)).status).toBe(200);
    const inviter = membership === 'none' ? await api.register() : c.bob;
    await expectOutcome(() => api.invite(inviter, c.roomId, dave.userId), expected);
  });
});

describe('kick and ban need their level and a level strictly above the target\'s', () => {
  const rows = [
    // actor level, target level, kick/ban level, expected
    [50, 0, 50, 200],
    [49, 0, 50, 403],
    [50, 49, 50, 200],
    [50, 50, 50, 403],
    [60, 70, 50, 403],
    [100, 99, 100, 200],
    [10, 5, 10, 200],
    [10, 10, 5, 403],
  ] as const;
  it.each(rows)('kick: actor %i, target %i, kick level %i -> %i', async (actor, target, kick, expected) => {
    const c = await setup({ bob: actor, carol: target }, { kick });
    await expectOutcome(() => api.kick(c.bob, c.roomId, c.carol.userId), expected);
    // the same kick through the state API
    if (expected === 200) expect((await api.join(c.carol, c.roomId)).status).toBe(200);
    await expectOutcome(() => api.putState(c.bob, c.roomId, 'm.room.member', c.carol.userId, { membership: 'leave' }), expected);
  });
  it.each(rows)('ban: actor %i, target %i, ban level %i -> %i', async (actor, target, ban, expected) => {
    const c = await setup({ bob: actor, carol: target }, { ban });
    await expectOutcome(() => api.ban(c.bob, c.roomId, c.carol.userId), expected);
  });
  it.each([
    [50, 50, 200],
    [49, 50, 403],
  ])('unban: actor %i, ban level %i -> %i', async (actor, ban, expected) => {
    const c = await setup({ bob: actor }, { ban });
    expect((await api.ban(c.alice, c.roomId, c.carol.userId)).status).toBe(200);
    await expectOutcome(() => api.unban(c.bob, c.roomId, c.carol.userId), expected);
  });
});

describe('banned users cannot join until unbanned', () => {
  it.each([
    ['banned', false, false, 403],
    ['banned, then invited', false, true, 403],
    ['banned, then unbanned', true, false, 200],
  ])('%s -> %i', async (_n, unban, invite, expected) => {
    const c = await setup();
    expect((await api.ban(c.alice, c.roomId, c.carol.userId)).status).toBe(200);
    if (unban) expect((await api.unban(c.alice, c.roomId, c.carol.userId)).status).toBe(200);
    if (invite) expect((await api.invite(c.alice, c.roomId, c.carol.userId)).status).toBe(403);
    await expectOutcome(() => api.join(c.carol, c.roomId), expected);
    await expectOutcome(() => api.putState(c.carol, c.roomId, 'm.room.member', c.carol.userId, { membership: 'join' }), expected);
  });
});

describe('message events need events_default or their type\'s level', () => {
  it.each([
    // user level, events_default, events map, type, expected
    [0, 0, {}, 'm.room.message', 200],
    [0, 1, {}, 'm.room.message', 403],
    [10, 10, {}, 'org.example.x', 200],
    [0, 0, { 'org.example.x': 5 }, 'org.example.x', 403],
    [5, 0, { 'org.example.x': 5 }, 'org.example.x', 200],
    [10, 50, { 'm.room.message': 10 }, 'm.room.message', 200],
    [10, 50, { 'm.room.message': 10 }, 'org.example.other', 403],
  ])('level %i, events_default %i, events %j, %s -> %i', async (level, eventsDefault, events, type, expected) => {
    const c = await setup({ bob: level }, { events_default: eventsDefault, events });
    const content = type === 'm.room.message' ? MSG : { v: 1 };
    await expectOutcome(() => api.send(c.bob, c.roomId, type, content), expected);
    await expectOutcome(() => api.post(c.bob, c.roomId, type, content), expected);
  });
});

describe('state events need state_default or their type\'s level', () => {
  it.each([
    [0, 50, {}, 'org.example.state', 403],
    [50, 50, {}, 'org.example.state', 200],
    [0, 0, {}, 'org.example.state', 200],
    [0, 0, { 'm.room.topic': 20 }, 'm.room.topic', 403],
    [20, 100, { 'm.room.topic': 20 }, 'm.room.topic', 200],
    [20, 100, { 'm.room.topic': 20 }, 'm.room.name', 403],
    [49, 0, { 'm.room.name': 50 }, 'm.room.name', 403],
  ])('level %i, state_default %i, events %j, %s -> %i', async (level, stateDefault, events, type, expected) => {
    const c = await setup({ bob: level }, { state_default: stateDefault, events });
    const content = type === 'm.room.topic' ? { topic: 't' } : type === 'm.room.name' ? { name: 'n' } : { v: 1 };
    await expectOutcome(() => api.putState(c.bob, c.roomId, type, undefined, content), expected);
  });
});

describe('redaction: another\'s event needs the redact level, one\'s own needs none', () => {
  it.each([
    // whose event, redacter level, redact level, expected
    ['own', 0, 50, 200],
    ['own', 0, 100, 200],
    ['other', 0, 50, 403],
    ['other', 49, 50, 403],
    ['other', 50, 50, 200],
    ['other', 1, 1, 200],
  ])('%s event, level %i, redact level %i -> %i', async (whose, level, redact, expected) => {
    const c = await setup({ bob: level }, { redact });
    const author = whose === 'own' ? c.bob : c.carol;
    const target = await api.sendOk(author, c.roomId, 'm.room.message', MSG);
    await expectOutcome(() => api.redact(c.bob, c.roomId, target), expected);
  });
});

describe('a power_levels change may not raise anyone, or any level, above the sender\'s own', () => {
  // bob is at 50, and the power_levels event needs 50 (so bob may send it at all)
  it.each([
    ['raise himself to 60', (pl: Json, c: Cast) => users(pl, { [c.bob.userId]: 60 }), 403],
    ['raise carol to 50 (his own level)', (pl: Json, c: Cast) => users(pl, { [c.carol.userId]: 50 }), 200],
    ['raise carol to 51', (pl: Json, c: Cast) => users(pl, { [c.carol.userId]: 51 }), 403],
    ['lower himself to 10', (pl: Json, c: Cast) => users(pl, { [c.bob.userId]: 10 }), 200],
    ['lower alice (above him)', (pl: Json, c: Cast) => users(pl, { [c.alice.userId]: 0 }), 403],
    ['lower dave, at his own level', (pl: Json, c: Cast) => users(pl, { [DAVE(c)]: 0 }), 403],
    ['lower carol from 40 to 0', (pl: Json, c: Cast) => users(pl, { [c.carol.userId]: 0 }), 200],
    ['set ban to 50', (pl: Json) => ({ ...pl, ban: 50 }), 200],
    ['set ban to 60', (pl: Json) => ({ ...pl, ban: 60 }), 403],
    ['set users_default to 51', (pl: Json) => ({ ...pl, users_default: 51 }), 403],
    ['set events_default to 100', (pl: Json) => ({ ...pl, events_default: 100 }), 403],
    ['add an event level of 70', (pl: Json) => ({ ...pl, events: { ...(pl['events'] as Json), 'org.example.x': 70 } }), 403],
    ['add an event level of 40', (pl: Json) => ({ ...pl, events: { ...(pl['events'] as Json), 'org.example.x': 40 } }), 200],
    ['lower the history_visibility level (100, above him)', (pl: Json) => ({ ...pl, events: { ...(pl['events'] as Json), 'm.room.history_visibility': 10 } }), 403],
  ])('bob (50) tries to %s -> %i', async (_n, change, expected) => {
    const c = await setup({ bob: 50, carol: 40 }, {});
    // dave sits at bob's level
    await api.setPowerLevels(c.alice, c.roomId, (pl) => ({
      ...pl, users: { ...(pl['users'] as Json), [DAVE(c)]: 50 }, events: { ...(pl['events'] as Json), 'm.room.power_levels': 50 },
    }));
    const current = (await api.getState(c.bob, c.roomId, 'm.room.power_levels')).body;
    await expectOutcome(() => api.putState(c.bob, c.roomId, 'm.room.power_levels', undefined, change(current, c)), expected);
  });

  it('a user below the power_levels event\'s level cannot change it at all', async () => {
    const c = await setup({ bob: 49 });
    const current = (await api.getState(c.bob, c.roomId, 'm.room.power_levels')).body;
    await expectOutcome(() => api.putState(c.bob, c.roomId, 'm.room.power_levels', undefined, { ...current, ban: 10 }), 403);
  });

  it('the creator starts at 100 and may set anything up to 100', async () => {
    const c = await setup();
    const current = (await api.getState(c.alice, c.roomId, 'm.room.power_levels')).body;
    expect((current['users'] as Json)[c.alice.userId]).toBe(100);
    await expectOutcome(() => api.putState(c.alice, c.roomId, 'm.room.power_levels', undefined, users(current, { [c.bob.userId]: 100 })), 200);
    await expectOutcome(() => api.putState(c.alice, c.roomId, 'm.room.power_levels', undefined, users(current, { [c.bob.userId]: 101 })), 403);
  });
});

function users(pl: Json, change: Record<string, number>): Json {
  return { ...pl, users: { ...(pl['users'] as Json), ...change } };
}
/** A user id that never joins: levels are about ids, not members. */
function DAVE(c: Cast): string {
  return `@dave_of_${c.roomId.slice(1, 8)}:localhost`;
}
