import { describe, expect, it } from 'vitest';
import type { EventDraft, JsonObject, PersistedEvent } from '../events/types.js';
import { checkEventAllowed } from './auth-rules.js';
import { defaultPowerLevelsContent } from './power-levels.js';
import { RoomState } from './room-state.js';

const ROOM = '!room:hs';
let seq = 0;
function stateEv(type: string, stateKey: string, sender: string, content: JsonObject): PersistedEvent {
  seq++;
  return {
    event_id: `$e${seq}:hs`, room_id: ROOM, type, state_key: stateKey, sender, content,
    origin_server_ts: seq, stream_ordering: seq, topological_ordering: seq,
  };
}
const member = (user: string, membership: string, sender = user): PersistedEvent =>
  stateEv('m.room.member', user, sender, { membership });

/** alice created it (100), mod has 50, bob is a member (0), carol invited, dave banned, erin left. */
function room(opts: { joinRule?: string; pl?: JsonObject | null } = {}): RoomState {
  const pl = opts.pl === undefined ? { ...defaultPowerLevelsContent('@alice:hs'), users: { '@alice:hs': 100, '@mod:hs': 50 } } : opts.pl;
  return new RoomState([
    stateEv('m.room.create', '', '@alice:hs', { creator: '@alice:hs' }),
    member('@alice:hs', 'join'),
    ...(pl === null ? [] : [stateEv('m.room.power_levels', '', '@alice:hs', pl)]),
    stateEv('m.room.join_rules', '', '@alice:hs', { join_rule: opts.joinRule ?? 'invite' }),
    member('@mod:hs', 'join'),
    member('@bob:hs', 'join'),
    member('@carol:hs', 'invite', '@alice:hs'),
    member('@dave:hs', 'ban', '@alice:hs'),
    member('@erin:hs', 'leave'),
  ]);
}
function draft(type: string, sender: string, content: JsonObject, stateKey?: string, redacts?: string): EventDraft {
  return { room_id: ROOM, type, sender, content, ...(stateKey !== undefined ? { state_key: stateKey } : {}), ...(redacts ? { redacts } : {}) };
}
const mem = (sender: string, target: string, membership: string, extra: JsonObject = {}): EventDraft =>
  draft('m.room.member', sender, { membership, ...extra }, target);

type Case = [name: string, d: EventDraft, allowed: boolean, opts?: { joinRule?: string; pl?: JsonObject | null }];

function run(cases: Case[]): void {
  it.each(cases)('%s', (_name, d, allowed, opts) => {
    const res = checkEventAllowed(d, room(opts));
    expect(res.ok, JSON.stringify(res)).toBe(allowed);
    if (!res.ok) expect(res.errcode).toBe('M_FORBIDDEN');
  });
}

describe('only joined members send', () => {
  run([
    ['joined member sends a message', draft('m.room.message', '@bob:hs', { body: 'x' }), true],
    ['invited user cannot send', draft('m.room.message', '@carol:hs', { body: 'x' }), false],
    ['banned user cannot send', draft('m.room.message', '@dave:hs', { body: 'x' }), false],
    ['user who left cannot send', draft('m.room.message', '@erin:hs', { body: 'x' }), false],
    ['stranger cannot send', draft('m.room.message', '@frank:hs', { body: 'x' }), false],
    ['stranger cannot set state', draft('m.room.topic', '@frank:hs', { topic: 't' }, ''), false],
  ]);
});

describe('join rules', () => {
  run([
    ['public: stranger joins', mem('@frank:hs', '@frank:hs', 'join'), true, { joinRule: 'public' }],
    ['public: user who left re-joins', mem('@erin:hs', '@erin:hs', 'join'), true, { joinRule: 'public' }],
    ['invite: stranger cannot join', mem('@frank:hs', '@frank:hs', 'join'), false],
    ['invite: user who left cannot re-join', mem('@erin:hs', '@erin:hs', 'join'), false],
    ['invite: invited user joins', mem('@carol:hs', '@carol:hs', 'join'), true],
    ['member re-sends join to change displayname', mem('@bob:hs', '@bob:hs', 'join', { displayname: 'Bobby' }), true],
    ['knock rule: nobody joins uninvited', mem('@frank:hs', '@frank:hs', 'join'), false, { joinRule: 'knock' }],
    ['private rule: nobody joins uninvited', mem('@frank:hs', '@frank:hs', 'join'), false, { joinRule: 'private' }],
    ['nobody joins someone else', mem('@alice:hs', '@frank:hs', 'join'), false, { joinRule: 'public' }],
    ['banned user cannot join a public room', mem('@dave:hs', '@dave:hs', 'join'), false, { joinRule: 'public' }],
    ['knock membership is refused', mem('@frank:hs', '@frank:hs', 'knock'), false, { joinRule: 'public' }],
    ['unknown membership is refused', mem('@bob:hs', '@bob:hs', 'dance'), false],
  ]);
});

describe('invites', () => {
  run([
    ['member invites a stranger', mem('@bob:hs', '@frank:hs', 'invite'), true],
    ['member re-invites an invited user', mem('@bob:hs', '@carol:hs', 'invite'), true],
    ['member invites a user who left', mem('@bob:hs', '@erin:hs', 'invite'), true],
    ['cannot invite a member', mem('@bob:hs', '@mod:hs', 'invite'), false],
    ['cannot invite a banned user', mem('@alice:hs', '@dave:hs', 'invite'), false],
    ['invited user cannot invite', mem('@carol:hs', '@frank:hs', 'invite'), false],
    ['stranger cannot invite', mem('@frank:hs', '@grace:hs', 'invite'), false],
    ['invite level 50: bob (0) cannot', mem('@bob:hs', '@frank:hs', 'invite'), false,
      { pl: { ...defaultPowerLevelsContent('@alice:hs'), invite: 50 } }],
    ['invite level 50: alice can', mem('@alice:hs', '@frank:hs', 'invite'), true,
      { pl: { ...defaultPowerLevelsContent('@alice:hs'), invite: 50 } }],
    ['invited user rejects (leave)', mem('@carol:hs', '@carol:hs', 'leave'), true],
  ]);
});

describe('kick, ban, unban, leave', () => {
  run([
    ['member leaves', mem('@bob:hs', '@bob:hs', 'leave'), true],
    ['user who left cannot leave again', mem('@erin:hs', '@erin:hs', 'leave'), false],
    ['banned user cannot unban themselves by leaving', mem('@dave:hs', '@dave:hs', 'leave'), false],
    ['mod (50) kicks bob (0)', mem('@mod:hs', '@bob:hs', 'leave'), true],
    ['mod kicks an invited user (revoking the invite)', mem('@mod:hs', '@carol:hs', 'leave'), true],
    ['bob (0) cannot kick mod', mem('@bob:hs', '@mod:hs', 'leave'), false],
    ['mod cannot kick alice (100)', mem('@mod:hs', '@alice:hs', 'leave'), false],
    ['equal level cannot kick', mem('@mod:hs', '@mod2:hs', 'leave'), false,
      { pl: { ...defaultPowerLevelsContent('@alice:hs'), users: { '@alice:hs': 100, '@mod:hs': 50, '@mod2:hs': 50 } } }],
    ['kick level 60 stops mod', mem('@mod:hs', '@bob:hs', 'leave'), false,
      { pl: { ...defaultPowerLevelsContent('@alice:hs'), users: { '@alice:hs': 100, '@mod:hs': 50 }, kick: 60 } }],
    ['mod bans bob', mem('@mod:hs', '@bob:hs', 'ban'), true],
    ['mod bans a stranger', mem('@mod:hs', '@frank:hs', 'ban'), true],
    ['bob cannot ban', mem('@bob:hs', '@erin:hs', 'ban'), false],
    ['mod cannot ban alice', mem('@mod:hs', '@alice:hs', 'ban'), false],
    ['ban level 60 stops mod', mem('@mod:hs', '@bob:hs', 'ban'), false,
      { pl: { ...defaultPowerLevelsContent('@alice:hs'), users: { '@alice:hs': 100, '@mod:hs': 50 }, ban: 60 } }],
    ['mod unbans dave', mem('@mod:hs', '@dave:hs', 'leave'), true],
    ['bob cannot unban dave', mem('@bob:hs', '@dave:hs', 'leave'), false],
  ]);

  it('unban then join works step by step', () => {
    const s = room({ joinRule: 'public' });
    expect(checkEventAllowed(mem('@dave:hs', '@dave:hs', 'join'), s).ok).toBe(false);
    s.set(member('@dave:hs', 'leave', '@alice:hs'));
    expect(checkEventAllowed(mem('@dave:hs', '@dave:hs', 'join'), s).ok).toBe(true);
  });
});

describe('sending levels', () => {
  const pl = { ...defaultPowerLevelsContent('@alice:hs'), users: { '@alice:hs': 100, '@mod:hs': 50 } };
  run([
    ['message needs events_default 0', draft('m.room.message', '@bob:hs', {}), true],
    ['events_default 10 stops bob', draft('m.room.message', '@bob:hs', {}), false, { pl: { ...pl, events_default: 10 } }],
    ['custom type level in events', draft('org.x', '@bob:hs', {}), false, { pl: { ...pl, events: { 'org.x': 1 } } }],
    ['custom type level met', draft('org.x', '@mod:hs', {}), true, { pl: { ...pl, events: { 'org.x': 1 } } }],
    ['state needs state_default 50: bob cannot', draft('org.state', '@bob:hs', {}, ''), false],
    ['state_default met by mod', draft('org.state', '@mod:hs', {}, ''), true],
    ['topic (state_default) by mod', draft('m.room.topic', '@mod:hs', { topic: 't' }, ''), true],
    ['name needs 50: bob cannot', draft('m.room.name', '@bob:hs', { name: 'n' }, ''), false],
    ['history_visibility needs 100: mod cannot', draft('m.room.history_visibility', '@mod:hs', { history_visibility: 'joined' }, ''), false],
    ['history_visibility by alice', draft('m.room.history_visibility', '@alice:hs', { history_visibility: 'joined' }, ''), true],
    ['events level beats state_default', draft('org.state', '@bob:hs', {}, ''), true, { pl: { ...pl, events: { 'org.state': 0 } } }],
    ['no power_levels: everyone may send state', draft('m.room.topic', '@bob:hs', { topic: 't' }, ''), true, { pl: null }],
    ['state keyed by another user id is refused', draft('org.state', '@mod:hs', {}, '@bob:hs'), false],
    ['state keyed by own user id is allowed', draft('org.state', '@mod:hs', {}, '@mod:hs'), true],
    ['aliases for own server, without power', draft('m.room.aliases', '@bob:hs', { aliases: ['#a:hs'] }, 'hs'), true],
    ['aliases for another server', draft('m.room.aliases', '@alice:hs', { aliases: ['#a:x'] }, 'other'), false],
    ['aliases need membership', draft('m.room.aliases', '@frank:hs', { aliases: ['#a:hs'] }, 'hs'), false],
  ]);
});

describe('redaction', () => {
  const red = (sender: string) => draft('m.room.redaction', sender, {}, undefined, '$target:hs');
  it.each([
    ['bob redacts his own event', '@bob:hs', '@bob:hs', true],
    ['bob cannot redact mod\'s event', '@bob:hs', '@mod:hs', false],
    ['mod (redact 50) redacts bob\'s event', '@mod:hs', '@bob:hs', true],
    ['bob cannot redact an unknown event', '@bob:hs', undefined, false],
    ['mod redacts an unknown event', '@mod:hs', undefined, true],
    ['non-member cannot redact even their own', '@erin:hs', '@erin:hs', false],
  ])('%s', (_n, sender, original, allowed) => {
    expect(checkEventAllowed(red(sender), room(), { redactedEventSender: original }).ok).toBe(allowed);
  });
  it('needs redacts', () => {
    expect(checkEventAllowed(draft('m.room.redaction', '@mod:hs', {}), room())).toMatchObject({ ok: false, errcode: 'M_BAD_JSON' });
  });
});

describe('power_levels changes', () => {
  const base = { ...defaultPowerLevelsContent('@alice:hs'), users: { '@alice:hs': 100, '@mod:hs': 50, '@bob:hs': 0 } };
  // In `modPl` the mod may send power_levels (50) but history_visibility still needs 100.
  const baseEvents = defaultPowerLevelsContent('@alice:hs')['events'] as JsonObject;
  const modPl = { ...base, events: { ...baseEvents, 'm.room.power_levels': 50 } };
  const asMod = { pl: modPl };
  const change = (sender: string, over: JsonObject, from: JsonObject = base) =>
    draft('m.room.power_levels', sender, { ...from, ...over }, '');
  const modChange = (over: JsonObject) => change('@mod:hs', over, modPl);
  run([
    ['alice raises bob to 50', change('@alice:hs', { users: { ...base.users, '@bob:hs': 50 } }), true],
    ['alice raises bob to 100', change('@alice:hs', { users: { ...base.users, '@bob:hs': 100 } }), true],
    ['alice cannot raise bob above herself', change('@alice:hs', { users: { ...base.users, '@bob:hs': 101 } }), false],
    ['alice cannot raise herself', change('@alice:hs', { users: { ...base.users, '@alice:hs': 150 } }), false],
    ['mod cannot change levels without the PL level', change('@mod:hs', { users: { ...base.users, '@bob:hs': 10 } }), false],
    ['mod raises bob to 50', modChange({ users: { ...base.users, '@bob:hs': 50 } }), true, asMod],
    ['mod cannot raise bob to 51', modChange({ users: { ...base.users, '@bob:hs': 51 } }), false, asMod],
    ['mod demotes himself', modChange({ users: { ...base.users, '@mod:hs': 10 } }), true, asMod],
    ['mod cannot demote alice', modChange({ users: { ...base.users, '@alice:hs': 0 } }), false, asMod],
    ['mod cannot demote an equal', modChange({ users: { ...base.users, '@mod2:hs': 0 } }), false,
      { pl: { ...modPl, users: { ...base.users, '@mod2:hs': 50 } } }],
    ['mod cannot remove alice', modChange({ users: { '@mod:hs': 50, '@bob:hs': 0 } }), false, asMod],
    ['mod cannot raise the ban level above 50', modChange({ ban: 60 }), false, asMod],
    ['mod lowers kick to 10', modChange({ kick: 10 }), true, asMod],
    ['mod lowers the PL event level (50) to 40', modChange({ events: { ...modPl.events, 'm.room.power_levels': 40 } }), true, asMod],
    ['mod cannot lower a level above his own', modChange({ events: { ...modPl.events, 'm.room.history_visibility': 0 } }), false, asMod],
    ['mod cannot remove a level above his own', modChange({ events: { 'm.room.power_levels': 50 } }), false, asMod],
    ['mod cannot lower state_default from 60', change('@mod:hs', { state_default: 10 }, { ...modPl, state_default: 60 }), false,
      { pl: { ...modPl, state_default: 60 } }],
    ['unchanged high entries are not checked', modChange({ users: { ...base.users, '@bob:hs': 1 } }), true, asMod],
    ['alice sets users_default to 100', change('@alice:hs', { users_default: 100 }), true],
    ['mod cannot set users_default to 100', modChange({ users_default: 100 }), false, asMod],
  ]);
  it('rejects malformed levels with M_BAD_JSON', () => {
    expect(checkEventAllowed(change('@alice:hs', { users: { notauser: 1 } }), room({ pl: base }))).toMatchObject({ errcode: 'M_BAD_JSON' });
    expect(checkEventAllowed(change('@alice:hs', { ban: 'lots' }), room({ pl: base }))).toMatchObject({ errcode: 'M_BAD_JSON' });
  });
});

describe('room creation order', () => {
  const create = draft('m.room.create', '@alice:hs', { creator: '@alice:hs' }, '');
  it('m.room.create is allowed only first', () => {
    expect(checkEventAllowed(create, new RoomState()).ok).toBe(true);
    expect(checkEventAllowed(create, room()).ok).toBe(false);
  });
  it('nothing comes before m.room.create', () => {
    expect(checkEventAllowed(mem('@alice:hs', '@alice:hs', 'join'), new RoomState()).ok).toBe(false);
    expect(checkEventAllowed(draft('m.room.message', '@alice:hs', {}), new RoomState()).ok).toBe(false);
  });
  it('only the creator makes the first join of an invite-only room', () => {
    const s = new RoomState([stateEv('m.room.create', '', '@alice:hs', { creator: '@alice:hs' })]);
    expect(checkEventAllowed(mem('@alice:hs', '@alice:hs', 'join'), s).ok).toBe(true);
    expect(checkEventAllowed(mem('@bob:hs', '@bob:hs', 'join'), s).ok).toBe(false);
  });
  it('without power_levels the creator has 100 and others 0', () => {
    const s = new RoomState([stateEv('m.room.create', '', '@alice:hs', { creator: '@alice:hs' }), member('@alice:hs', 'join'), member('@bob:hs', 'join')]);
    expect(s.powerLevelOf('@alice:hs')).toBe(100);
    expect(s.powerLevelOf('@bob:hs')).toBe(0);
    expect(checkEventAllowed(mem('@alice:hs', '@bob:hs', 'ban'), s).ok).toBe(true);
    expect(checkEventAllowed(mem('@bob:hs', '@alice:hs', 'ban'), s).ok).toBe(false);
  });
  it('create needs an empty state_key', () => {
    expect(checkEventAllowed({ ...create, state_key: 'x' }, new RoomState()).ok).toBe(false);
  });
  it('member events need a user id state_key', () => {
    expect(checkEventAllowed(mem('@bob:hs', 'bob', 'join'), room())).toMatchObject({ ok: false, errcode: 'M_BAD_JSON' });
  });
});
