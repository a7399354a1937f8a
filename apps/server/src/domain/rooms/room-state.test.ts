import { describe, expect, it } from 'vitest';
import type { JsonObject, PersistedEvent } from '../events/types.js';
import { RoomState, stateMapKey } from './room-state.js';

let n = 0;
function ev(type: string, stateKey: string | undefined, content: JsonObject, sender = '@a:hs'): PersistedEvent {
  n++;
  return {
    event_id: `$${n}:hs`, room_id: '!r:hs', type, sender, content, origin_server_ts: n, stream_ordering: n, topological_ordering: n,
    ...(stateKey !== undefined ? { state_key: stateKey } : {}),
  };
}

describe('RoomState', () => {
  it('keys by type and state_key', () => {
    expect(stateMapKey('m.room.member', '@a:hs')).toBe('m.room.member\u0000@a:hs');
    const s = new RoomState([ev('m.room.name', '', { name: 'one' }), ev('m.room.name', '', { name: 'two' })]);
    expect(s.size).toBe(1);
    expect(s.content('m.room.name')).toEqual({ name: 'two' });
  });

  it('refuses non-state events', () => {
    expect(() => new RoomState().set(ev('m.room.message', undefined, {}))).toThrow(TypeError);
  });

  it('with() leaves the original untouched', () => {
    const s = new RoomState([ev('m.room.name', '', { name: 'one' })]);
    const t = s.with(ev('m.room.name', '', { name: 'two' }));
    expect(s.content('m.room.name')).toEqual({ name: 'one' });
    expect(t.content('m.room.name')).toEqual({ name: 'two' });
  });

  it('answers membership and member lists', () => {
    const s = new RoomState([
      ev('m.room.member', '@a:hs', { membership: 'join' }),
      ev('m.room.member', '@b:hs', { membership: 'invite' }),
      ev('m.room.member', '@c:hs', { membership: 'join' }),
      ev('m.room.member', '@d:hs', { membership: 'weird' }),
    ]);
    expect(s.membershipOf('@a:hs')).toBe('join');
    expect(s.membershipOf('@b:hs')).toBe('invite');
    expect(s.membershipOf('@d:hs')).toBeUndefined();
    expect(s.membershipOf('@zz:hs')).toBeUndefined();
    expect(s.members().sort()).toEqual(['@a:hs', '@c:hs']);
    expect(s.members('invite')).toEqual(['@b:hs']);
  });

  it.each([
    [undefined, 'invite', 'shared', 'forbidden'],
    [{ join_rule: 'public', history_visibility: 'world_readable', guest_access: 'can_join' }, 'public', 'world_readable', 'can_join'],
    [{ join_rule: 7, history_visibility: 'bogus', guest_access: 'maybe' }, 'invite', 'shared', 'forbidden'],
  ])('room settings from %j', (c, joinRule, hv, guest) => {
    const s = new RoomState();
    if (c) {
      s.set(ev('m.room.join_rules', '', { join_rule: c.join_rule }));
      s.set(ev('m.room.history_visibility', '', { history_visibility: c.history_visibility }));
      s.set(ev('m.room.guest_access', '', { guest_access: c.guest_access }));
    }
    expect([s.joinRule(), s.historyVisibility(), s.guestAccess()]).toEqual([joinRule, hv, guest]);
  });

  it('recomputes power levels when they change', () => {
    const s = new RoomState([ev('m.room.create', '', { creator: '@a:hs' })]);
    expect(s.powerLevelOf('@a:hs')).toBe(100);
    s.set(ev('m.room.power_levels', '', { users: { '@a:hs': 42 } }));
    expect(s.powerLevelOf('@a:hs')).toBe(42);
    expect(s.creator()).toBe('@a:hs');
  });

  it('falls back to the create event sender for the creator', () => {
    expect(new RoomState([ev('m.room.create', '', {}, '@z:hs')]).creator()).toBe('@z:hs');
  });
});
