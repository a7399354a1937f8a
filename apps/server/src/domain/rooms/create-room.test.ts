import { describe, expect, it } from 'vitest';
import type { EventDraft, PersistedEvent } from '../events/types.js';
import { checkEventAllowed } from './auth-rules.js';
import { planCreateRoom, resolvePreset, type CreateRoomPlan, type CreateRoomRequest } from './create-room.js';
import { RoomState } from './room-state.js';

const ctx = { creator: '@alice:hs', roomId: '!new:hs', serverName: 'hs' };

function plan(req: CreateRoomRequest, c: Parameters<typeof planCreateRoom>[1] = ctx): CreateRoomPlan {
  const res = planCreateRoom(req, c);
  if (!res.ok) throw new Error(res.error);
  return res.plan;
}
const shape = (p: CreateRoomPlan): string[] =>
  p.events.map((e) => (e.state_key === '' ? e.type : `${e.type}/${e.state_key ?? '-'}`));
const find = (p: CreateRoomPlan, type: string, stateKey = ''): EventDraft | undefined =>
  p.events.find((e) => e.type === type && e.state_key === stateKey);

/** Runs the plan through the auth rules as the rooms handler will. */
function applyAll(p: CreateRoomPlan): RoomState {
  const state = new RoomState();
  p.events.forEach((d, i) => {
    const verdict = checkEventAllowed(d, state);
    expect(verdict, `${d.type}/${d.state_key}`).toEqual({ ok: true });
    const ev: PersistedEvent = { ...d, event_id: `$${i}:hs`, origin_server_ts: i, stream_ordering: i, topological_ordering: i };
    state.set(ev);
  });
  return state;
}

describe('resolvePreset', () => {
  it.each([
    [{}, 'private_chat'],
    [{ visibility: 'private' }, 'private_chat'],
    [{ visibility: 'public' }, 'public_chat'],
    [{ visibility: 'public', preset: 'private_chat' }, 'private_chat'],
    [{ visibility: 'private', preset: 'public_chat' }, 'public_chat'],
    [{ preset: 'trusted_private_chat' }, 'trusted_private_chat'],
  ] as const)('%j -> %s', (req, preset) => {
    expect(resolvePreset(req)).toBe(preset);
  });
});

describe('planCreateRoom: event order', () => {
  it.each<[string, CreateRoomRequest, string[]]>([
    ['empty request (private_chat)', {}, [
      'm.room.create', 'm.room.member/@alice:hs', 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility',
      'm.room.guest_access',
    ]],
    ['public_chat has no guest_access', { preset: 'public_chat' }, [
      'm.room.create', 'm.room.member/@alice:hs', 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility',
    ]],
    ['everything', {
      preset: 'public_chat', room_alias_name: 'pub', name: 'Pub', topic: 'Beer', invite: ['@bob:hs', '@carol:hs'],
      initial_state: [{ type: 'org.x', content: { a: 1 } }],
    }, [
      'm.room.create', 'm.room.member/@alice:hs', 'm.room.power_levels', 'm.room.canonical_alias', 'm.room.join_rules',
      'm.room.history_visibility', 'org.x', 'm.room.aliases/hs', 'm.room.name', 'm.room.topic',
      'm.room.member/@bob:hs', 'm.room.member/@carol:hs',
    ]],
    ['initial_state replaces the preset join_rules in place', {
      preset: 'public_chat', initial_state: [{ type: 'org.a', content: {} }, { type: 'm.room.join_rules', content: { join_rule: 'invite' } }],
    }, [
      'm.room.create', 'm.room.member/@alice:hs', 'm.room.power_levels', 'm.room.history_visibility', 'org.a', 'm.room.join_rules',
    ]],
    ['initial_state may replace power_levels, history_visibility, guest_access and canonical_alias', {
      room_alias_name: 'x',
      initial_state: [
        { type: 'm.room.power_levels', content: { users: { '@alice:hs': 100 } } },
        { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
        { type: 'm.room.guest_access', content: { guest_access: 'forbidden' } },
        { type: 'm.room.canonical_alias', content: { alias: '#other:hs' } },
      ],
    }, [
      'm.room.create', 'm.room.member/@alice:hs', 'm.room.join_rules', 'm.room.power_levels', 'm.room.history_visibility',
      'm.room.guest_access', 'm.room.canonical_alias', 'm.room.aliases/hs',
    ]],
    ['repeated initial_state keeps the first place', {
      preset: 'public_chat', initial_state: [
        { type: 'org.a', content: { v: 1 } }, { type: 'org.b', content: {} }, { type: 'org.a', content: { v: 2 } },
        { type: 'org.a', state_key: 'k', content: {} },
      ],
    }, [
      'm.room.create', 'm.room.member/@alice:hs', 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility',
      'org.a', 'org.b', 'org.a/k',
    ]],
    ['an empty name is still sent', { preset: 'public_chat', name: '' }, [
      'm.room.create', 'm.room.member/@alice:hs', 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility', 'm.room.name',
    ]],
  ])('%s', (_n, req, expected) => {
    const p = plan(req);
    expect(shape(p)).toEqual(expected);
    for (const e of p.events) expect(e).toMatchObject({ room_id: '!new:hs', sender: '@alice:hs' });
  });
});

describe('planCreateRoom: contents', () => {
  it.each<[string, CreateRoomRequest, string, string, string | undefined]>([
    ['default', {}, 'invite', 'shared', 'can_join'],
    ['visibility public', { visibility: 'public' }, 'public', 'shared', undefined],
    ['trusted', { preset: 'trusted_private_chat' }, 'invite', 'shared', 'can_join'],
    ['public_chat', { preset: 'public_chat' }, 'public', 'shared', undefined],
    ['initial_state wins over the preset', { visibility: 'public', initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'invite' } }] }, 'invite', 'shared', undefined],
  ])('%s', (_n, req, joinRule, hv, guest) => {
    const p = plan(req);
    expect(find(p, 'm.room.join_rules')?.content).toEqual({ join_rule: joinRule });
    expect(find(p, 'm.room.history_visibility')?.content).toEqual({ history_visibility: hv });
    expect(find(p, 'm.room.guest_access')?.content).toEqual(guest ? { guest_access: guest } : undefined);
  });

  it('create content merges creation_content and forces creator', () => {
    const p = plan({ creation_content: { 'm.federate': false, creator: '@mallory:hs' } });
    expect(find(p, 'm.room.create')?.content).toEqual({ 'm.federate': false, creator: '@alice:hs' });
  });

  it('the creator join carries the profile', () => {
    const p = plan({}, { ...ctx, creatorProfile: { displayname: 'Alice', avatar_url: null } });
    expect(find(p, 'm.room.member', '@alice:hs')?.content).toEqual({ membership: 'join', displayname: 'Alice' });
  });

  it('trusted_private_chat makes the invitees admins', () => {
    const p = plan({ preset: 'trusted_private_chat', invite: ['@bob:hs'] });
    expect(find(p, 'm.room.power_levels')?.content['users']).toEqual({ '@alice:hs': 100, '@bob:hs': 100 });
    expect(find(p, 'm.room.member', '@bob:hs')?.content).toEqual({ membership: 'invite' });
  });

  it('private_chat does not', () => {
    const p = plan({ preset: 'private_chat', invite: ['@bob:hs'] });
    expect(find(p, 'm.room.power_levels')?.content['users']).toEqual({ '@alice:hs': 100 });
  });

  it('aliases, name and topic', () => {
    const p = plan({ room_alias_name: 'thepub', name: 'The Pub', topic: 'Happy hour' });
    expect(p.roomAlias).toBe('#thepub:hs');
    expect(find(p, 'm.room.canonical_alias')?.content).toEqual({ alias: '#thepub:hs' });
    expect(find(p, 'm.room.aliases', 'hs')?.content).toEqual({ aliases: ['#thepub:hs'] });
    expect(find(p, 'm.room.name')?.content).toEqual({ name: 'The Pub' });
    expect(find(p, 'm.room.topic')?.content).toEqual({ topic: 'Happy hour' });
  });

  it('visibility only decides the directory listing', () => {
    expect(plan({ visibility: 'public', preset: 'private_chat' }).listedPublicly).toBe(true);
    expect(plan({ preset: 'public_chat' }).listedPublicly).toBe(false);
  });

  it('duplicate invitees are invited once', () => {
    expect(shape(plan({ invite: ['@bob:hs', '@bob:hs'] })).filter((s) => s === 'm.room.member/@bob:hs')).toHaveLength(1);
  });
});

describe('planCreateRoom: every planned event passes the auth rules', () => {
  it.each<[string, CreateRoomRequest]>([
    ['private', { invite: ['@bob:hs'] }],
    ['public with everything', { preset: 'public_chat', room_alias_name: 'a', name: 'n', topic: 't', invite: ['@bob:hs'], initial_state: [{ type: 'org.x', content: {} }] }],
    ['trusted', { preset: 'trusted_private_chat', invite: ['@bob:hs', '@carol:hs'] }],
  ])('%s', (_n, req) => {
    const state = applyAll(plan(req));
    expect(state.membershipOf('@alice:hs')).toBe('join');
    for (const u of req.invite ?? []) expect(state.membershipOf(u)).toBe('invite');
    expect(state.powerLevelOf('@alice:hs')).toBe(100);
  });
});

describe('planCreateRoom: errors', () => {
  it.each<[string, CreateRoomRequest, string]>([
    ['whitespace in alias', { room_alias_name: 'a b' }, 'M_INVALID_PARAM'],
    ['colon in alias', { room_alias_name: 'a:b' }, 'M_INVALID_PARAM'],
    ['empty alias', { room_alias_name: '' }, 'M_INVALID_PARAM'],
    ['bad invitee', { invite: ['bob'] }, 'M_INVALID_PARAM'],
    ['inviting oneself', { invite: ['@alice:hs'] }, 'M_INVALID_PARAM'],
    ['create in initial_state', { initial_state: [{ type: 'm.room.create', content: {} }] }, 'M_INVALID_ROOM_STATE'],
    ['member in initial_state', { initial_state: [{ type: 'm.room.member', state_key: '@bob:hs', content: { membership: 'join' } }] }, 'M_INVALID_ROOM_STATE'],
    ['unknown preset', { preset: 'party' as unknown as 'public_chat' }, 'M_INVALID_PARAM'],
  ])('%s', (_n, req, errcode) => {
    expect(planCreateRoom(req, ctx)).toMatchObject({ ok: false, errcode });
  });
});
