import { describe, expect, it } from 'vitest';
import type { Membership } from '../events/types.js';
import { canSeeEvent, type VisibilityEvent } from './visibility.js';

const ME = '@me:hs';
const msg: VisibilityEvent = { type: 'm.room.message', content: { body: 'x' } };

describe('canSeeEvent: ordinary events', () => {
  type Row = [Membership | undefined, string | undefined, boolean, boolean];
  // membership at the event, history_visibility at the event, visible as member, visible while peeking
  const rows: Row[] = [
    ['join', 'joined', true, true],
    ['join', 'invited', true, true],
    ['join', 'shared', true, true],
    ['join', 'world_readable', true, true],
    ['invite', 'joined', false, false],
    ['invite', 'invited', true, true],
    ['invite', 'shared', true, false],
    ['invite', 'world_readable', true, true],
    ['leave', 'joined', false, false],
    ['leave', 'invited', false, false],
    ['leave', 'shared', true, false],
    ['leave', 'world_readable', true, true],
    ['ban', 'shared', true, false],
    ['ban', 'joined', false, false],
    [undefined, 'joined', false, false],
    [undefined, 'invited', false, false],
    [undefined, 'shared', true, false],
    [undefined, 'world_readable', true, true],
    [undefined, undefined, true, false],
    [undefined, 'nonsense', true, false],
    ['leave', undefined, true, false],
  ];
  it.each(rows)('membership %s, visibility %s', (membership, historyVisibility, asMember, peeking) => {
    expect(canSeeEvent(ME, msg, { membership, historyVisibility })).toBe(asMember);
    expect(canSeeEvent(ME, msg, { membership, historyVisibility }, { isPeeking: true })).toBe(peeking);
  });
});

describe('canSeeEvent: the user\'s own membership events', () => {
  const own = (membership: string, prev?: string): VisibilityEvent => ({
    type: 'm.room.member', state_key: ME, content: { membership }, ...(prev ? { prev_content: { membership: prev } } : {}),
  });
  it.each<[string, VisibilityEvent, Membership | undefined, boolean]>([
    ['leave after join, joined-only room', own('leave', 'join'), 'leave', true],
    ['rejecting an invite, joined-only room', own('leave', 'invite'), 'leave', true],
    ['kicked/left without having been in (leave after leave)', own('leave', 'leave'), 'leave', false],
    ['own invite in an invited room', own('invite'), 'invite', true],
    ['own invite in a joined-only room', own('invite'), 'invite', false],
    ['own join', own('join', 'invite'), 'join', true],
    ['ban after join counts as join', own('ban', 'join'), 'ban', true],
  ])('%s', (name, ev, membership, expected) => {
    const historyVisibility = name.includes('invited room') ? 'invited' : 'joined';
    expect(canSeeEvent(ME, ev, { membership, historyVisibility }, { isPeeking: true })).toBe(expected);
  });

  it('someone else\'s membership event uses the state', () => {
    const other: VisibilityEvent = { type: 'm.room.member', state_key: '@x:hs', content: { membership: 'leave' }, prev_content: { membership: 'join' } };
    expect(canSeeEvent(ME, other, { membership: undefined, historyVisibility: 'joined' })).toBe(false);
  });

  it('ban after invite in an invited room is seen as invite', () => {
    expect(canSeeEvent(ME, own('ban', 'invite'), { membership: 'ban', historyVisibility: 'invited' })).toBe(true);
  });
});

describe('canSeeEvent: history_visibility changes', () => {
  const change = (to: string, from?: string): VisibilityEvent => ({
    type: 'm.room.history_visibility', state_key: '', content: { history_visibility: to },
    ...(from ? { prev_content: { history_visibility: from } } : {}),
  });
  it.each<[string, VisibilityEvent, boolean]>([
    ['shared -> joined is seen under shared', change('joined', 'shared'), true],
    ['joined -> world_readable', change('world_readable', 'joined'), true],
    ['joined -> invited is seen under invited: not by a non-member', change('invited', 'joined'), false],
    ['no previous setting counts as shared', change('joined'), true],
  ])('%s', (_n, ev, expected) => {
    const to = ev.content['history_visibility'] as string;
    expect(canSeeEvent(ME, ev, { membership: 'leave', historyVisibility: to })).toBe(expected);
  });
});
