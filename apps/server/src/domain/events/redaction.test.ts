import { describe, expect, it } from 'vitest';
import { prunedContent, redactEvent, redactPrevContent, RedactionMismatchError } from './redaction.js';
import type { PersistedEvent } from './types.js';

function ev(over: Partial<PersistedEvent> & Pick<PersistedEvent, 'type' | 'content'>): PersistedEvent {
  return {
    event_id: '$orig:hs', room_id: '!r:hs', sender: '@a:hs', origin_server_ts: 1000,
    stream_ordering: 5, topological_ordering: 3, ...over,
  };
}
const redaction = ev({
  event_id: '$red:hs', type: 'm.room.redaction', content: { reason: 'spam' }, redacts: '$orig:hs',
  sender: '@mod:hs', origin_server_ts: 2000,
});

describe('prunedContent', () => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    ['m.room.member', { membership: 'join', displayname: 'A', avatar_url: 'mxc://x' }, { membership: 'join' }],
    ['m.room.create', { creator: '@a:hs', 'm.federate': false }, { creator: '@a:hs' }],
    ['m.room.join_rules', { join_rule: 'invite', extra: 1 }, { join_rule: 'invite' }],
    ['m.room.power_levels',
      { ban: 50, events: { a: 1 }, events_default: 0, kick: 50, redact: 50, state_default: 50,
        users: { '@a:hs': 100 }, users_default: 0, invite: 0, notifications: { room: 50 } },
      { ban: 50, events: { a: 1 }, events_default: 0, kick: 50, redact: 50, state_default: 50,
        users: { '@a:hs': 100 }, users_default: 0 }],
    ['m.room.aliases', { aliases: ['#a:hs'], x: 1 }, { aliases: ['#a:hs'] }],
    ['m.room.history_visibility', { history_visibility: 'shared', x: 1 }, { history_visibility: 'shared' }],
    ['m.room.message', { msgtype: 'm.text', body: 'hi' }, {}],
    ['m.room.name', { name: 'n' }, {}],
    ['m.room.topic', { topic: 't' }, {}],
    ['m.room.canonical_alias', { alias: '#a:hs' }, {}],
    ['m.room.redaction', { reason: 'r' }, {}],
    ['org.example.custom', { membership: 'join' }, {}],
    ['m.room.member', { displayname: 'no membership key' }, {}],
  ];
  it.each(cases)('%s', (type, content, expected) => {
    expect(prunedContent(type, content)).toEqual(expected);
  });
});

describe('redactEvent', () => {
  it('strips content, keeps protocol keys and records the redaction', () => {
    const out = redactEvent(ev({ type: 'm.room.message', content: { body: 'secret', msgtype: 'm.text' }, txn_id: 't1', txn_token: 'tok' }), redaction);
    expect(out.content).toEqual({});
    expect(out).toMatchObject({
      event_id: '$orig:hs', room_id: '!r:hs', type: 'm.room.message', sender: '@a:hs', origin_server_ts: 1000,
      stream_ordering: 5, topological_ordering: 3, txn_id: 't1', txn_token: 'tok',
    });
    expect(out.redacted_because).toEqual({
      event_id: '$red:hs', room_id: '!r:hs', type: 'm.room.redaction', sender: '@mod:hs',
      content: { reason: 'spam' }, origin_server_ts: 2000, redacts: '$orig:hs',
    });
  });

  it('keeps state_key and prev_content of state events', () => {
    const out = redactEvent(ev({ type: 'm.room.member', state_key: '@a:hs', content: { membership: 'join', displayname: 'A' },
      prev_content: { membership: 'invite' }, replaces_state: '$p:hs', prev_sender: '@b:hs' }), redaction);
    expect(out).toMatchObject({ state_key: '@a:hs', content: { membership: 'join' }, prev_content: { membership: 'invite' }, replaces_state: '$p:hs' });
  });

  it('drops redacts when a redaction is itself redacted', () => {
    const target = ev({ event_id: '$orig:hs', type: 'm.room.redaction', content: { reason: 'x' }, redacts: '$other:hs' });
    const out = redactEvent(target, redaction);
    expect(out).not.toHaveProperty('redacts');
    expect(out.content).toEqual({});
  });

  it('does not mutate its input', () => {
    const input = ev({ type: 'm.room.message', content: { body: 'b' } });
    const copy = structuredClone(input);
    redactEvent(input, redaction);
    expect(input).toEqual(copy);
  });

  it('keeps the first redaction', () => {
    const once = redactEvent(ev({ type: 'm.room.message', content: { body: 'b' } }), redaction);
    const twice = redactEvent(once, { ...redaction, event_id: '$red2:hs' });
    expect(twice.redacted_because?.event_id).toBe('$red:hs');
  });

  it.each([
    ['a non-redaction', { ...redaction, type: 'm.room.message' }],
    ['another target', { ...redaction, redacts: '$x:hs' }],
    ['another room', { ...redaction, room_id: '!other:hs' }],
  ])('rejects %s', (_name, bad) => {
    expect(() => redactEvent(ev({ type: 'm.room.message', content: {} }), bad)).toThrow(RedactionMismatchError);
  });
});

describe('redactPrevContent', () => {
  it('prunes prev_content by the event type', () => {
    const out = redactPrevContent(ev({ type: 'm.room.member', state_key: '@a:hs', content: { membership: 'leave' },
      prev_content: { membership: 'join', displayname: 'A' } }));
    expect(out.prev_content).toEqual({ membership: 'join' });
  });
  it('returns events without prev_content unchanged', () => {
    const e = ev({ type: 'm.room.name', state_key: '', content: { name: 'n' } });
    expect(redactPrevContent(e)).toBe(e);
  });
});
