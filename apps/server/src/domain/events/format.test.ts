import { describe, expect, it } from 'vitest';
import { validateEvent, type RoomEvent } from '@axon/contract';
import {
  compileEvent, EventJsonCache, formatClientEvent, generateEventId, generateRoomId, jsonArray, renderEvent,
  type ClientEvent,
} from './format.js';
import { redactEvent } from './redaction.js';
import type { PersistedEvent } from './types.js';

// Compile-time: what we serve fits the contract's room event type.
const _fits: (e: ClientEvent) => RoomEvent = (e) => e;
void _fits;

const NOW = 1_000_500;
function ev(over: Partial<PersistedEvent> = {}): PersistedEvent {
  return {
    event_id: '$m1:hs', room_id: '!r:hs', type: 'm.room.message', sender: '@a:hs',
    content: { msgtype: 'm.text', body: 'hello' }, origin_server_ts: 1_000_000,
    stream_ordering: 7, topological_ordering: 4, ...over,
  };
}
const member = ev({
  event_id: '$mem:hs', type: 'm.room.member', state_key: '@a:hs',
  content: { membership: 'join', displayname: 'Alice' },
  prev_content: { membership: 'invite' }, prev_sender: '@b:hs', replaces_state: '$inv:hs',
});
const redactionEv = ev({
  event_id: '$red:hs', type: 'm.room.redaction', content: { reason: 'oops' }, redacts: '$m1:hs',
  sender: '@mod:hs', origin_server_ts: 1_000_200,
});

describe('formatClientEvent', () => {
  it('serves a message in the v1 format', () => {
    expect(formatClientEvent(ev(), NOW)).toStrictEqual({
      event_id: '$m1:hs', type: 'm.room.message', room_id: '!r:hs', sender: '@a:hs', user_id: '@a:hs',
      content: { msgtype: 'm.text', body: 'hello' }, origin_server_ts: 1_000_000,
      unsigned: { age: 500 }, age: 500,
    });
  });

  it('never puts state_key on a message, not even null', () => {
    expect(formatClientEvent(ev(), NOW)).not.toHaveProperty('state_key');
  });

  it('puts an empty state_key on state events', () => {
    expect(formatClientEvent(ev({ type: 'm.room.name', state_key: '', content: { name: 'n' } }), NOW).state_key).toBe('');
  });

  it('copies prev_content and replaces_state to the top level of replaced state', () => {
    const out = formatClientEvent(member, NOW);
    expect(out).toMatchObject({
      state_key: '@a:hs', prev_content: { membership: 'invite' }, replaces_state: '$inv:hs',
      unsigned: { prev_content: { membership: 'invite' }, prev_sender: '@b:hs', replaces_state: '$inv:hs', age: 500 },
    });
    expect(out).not.toHaveProperty('prev_sender');
  });

  it('ignores prev_content on non-state events', () => {
    const out = formatClientEvent(ev({ prev_content: { x: 1 }, replaces_state: '$x:hs' }), NOW);
    expect(out).not.toHaveProperty('prev_content');
    expect(out.unsigned).toStrictEqual({ age: 500 });
  });

  it('keeps redacts on redactions', () => {
    expect(formatClientEvent(redactionEv, NOW).redacts).toBe('$m1:hs');
  });

  it.each([
    ['same token', 'tok1', true],
    ['another token of the same user', 'tok2', false],
    ['no token', undefined, false],
  ])('transaction_id for %s', (_n, requesterToken, shown) => {
    const out = formatClientEvent(ev({ txn_id: 'txn9', txn_token: 'tok1' }), NOW, { requesterToken });
    expect(out.unsigned.transaction_id).toBe(shown ? 'txn9' : undefined);
    expect('transaction_id' in out.unsigned).toBe(shown);
  });

  it('serves redacted events stripped, with redacted_because and its own age', () => {
    const out = formatClientEvent(redactEvent(ev(), redactionEv), NOW);
    expect(out.content).toStrictEqual({});
    expect(out.unsigned.redacted_because).toStrictEqual({
      event_id: '$red:hs', type: 'm.room.redaction', room_id: '!r:hs', sender: '@mod:hs', user_id: '@mod:hs',
      content: { reason: 'oops' }, origin_server_ts: 1_000_200, redacts: '$m1:hs', unsigned: { age: 300 }, age: 300,
    });
  });

  it('prunes content even if storage kept the original', () => {
    const out = formatClientEvent({ ...member, redacted_because: { ...redactionEv, redacts: '$mem:hs' } }, NOW);
    expect(out.content).toStrictEqual({ membership: 'join' });
  });

  it.each([
    ['message', ev()],
    ['member', member],
    ['redaction', redactionEv],
    ['redacted message', redactEvent(ev(), redactionEv)],
    ['create', ev({ type: 'm.room.create', state_key: '', content: { creator: '@a:hs' } })],
    ['power levels', ev({ type: 'm.room.power_levels', state_key: '', content: { users: { '@a:hs': 100 } } })],
  ])('passes the event schema: %s', (_n, e) => {
    expect(validateEvent(formatClientEvent(e, NOW))).toEqual({ ok: true });
  });
});

describe('compiled templates', () => {
  const samples: Array<[string, PersistedEvent]> = [
    ['message', ev()],
    ['member', member],
    ['redaction', redactionEv],
    ['redacted', redactEvent(ev(), redactionEv)],
    ['txn', ev({ txn_id: 'a"b\\c', txn_token: 'tok1' })],
    // the transaction id goes into unsigned after whatever else is there
    ['redacted, with txn', { ...redactEvent(ev(), redactionEv), txn_id: 't"x', txn_token: 'tok1' }],
    ['state with prev_content, with txn', { ...member, prev_content: { membership: 'invite' }, prev_sender: '@b:hs', replaces_state: '$old:hs', txn_id: 't2', txn_token: 'tok1' }],
    ['unicode', ev({ content: { body: 'é\u2028😀' } })],
  ];
  it.each(samples)('render equals formatClientEvent for %s', (_n, e) => {
    const c = compileEvent(e);
    for (const now of [NOW, NOW + 12_345]) {
      for (const requesterToken of [undefined, 'tok1', 'other']) {
        const expected = formatClientEvent(e, now, { requesterToken });
        expect(JSON.parse(renderEvent(c, now, { requesterToken }))).toStrictEqual(expected);
        expect(renderEvent(c, now, { requesterToken })).toBe(JSON.stringify(expected));
      }
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(compileEvent(ev()))).toBe(true);
  });

  it('joins rendered events into an array', () => {
    const c = compileEvent(ev());
    expect(JSON.parse(jsonArray([renderEvent(c, NOW), renderEvent(c, NOW)]))).toHaveLength(2);
    expect(jsonArray([])).toBe('[]');
  });
});

describe('EventJsonCache', () => {
  it('compiles an event once', () => {
    const cache = new EventJsonCache();
    const e = ev();
    expect(cache.get(e)).toBe(cache.get({ ...e }));
    expect(cache.size).toBe(1);
  });

  it('recompiles when the event has been redacted since', () => {
    const cache = new EventJsonCache();
    cache.get(ev());
    const out = JSON.parse(cache.render(redactEvent(ev(), redactionEv), NOW)) as ClientEvent;
    expect(out.content).toStrictEqual({});
  });

  it('recompiles after invalidate', () => {
    const cache = new EventJsonCache();
    const first = cache.get(ev());
    cache.invalidate('$m1:hs');
    expect(cache.get(ev())).not.toBe(first);
  });

  it('evicts the least recently used entry', () => {
    const cache = new EventJsonCache(2);
    const a = cache.get(ev({ event_id: '$a:hs' }));
    cache.get(ev({ event_id: '$b:hs' }));
    cache.get(ev({ event_id: '$a:hs' }));
    cache.get(ev({ event_id: '$c:hs' }));
    expect(cache.size).toBe(2);
    expect(cache.get(ev({ event_id: '$a:hs' }))).toBe(a);
  });
});

describe('identifiers', () => {
  it('event ids are $<url-safe>:<server>', () => {
    const ids = new Set(Array.from({ length: 200 }, () => generateEventId('example.org')));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^\$[A-Za-z0-9_-]{24}:example\.org$/);
  });
  it('event ids made later sort after earlier ones (index locality), whatever their random part', () => {
    const zero = (n: number): Uint8Array => new Uint8Array(n);
    const high = (n: number): Uint8Array => new Uint8Array(n).fill(255);
    const t = Date.UTC(2026, 10, 29);
    expect(generateEventId('hs', high, t) < generateEventId('hs', zero, t + 1)).toBe(true);
    expect(generateEventId('hs', zero, t)).toBe(`$${t.toString(36)}${'A'.repeat(16)}:hs`);
  });
  it('room ids are !<18 letters>:<server>', () => {
    for (let i = 0; i < 200; i++) expect(generateRoomId('localhost')).toMatch(/^![A-Za-z]{18}:localhost$/);
  });
  it('room ids skip biased bytes', () => {
    let calls = 0;
    const random = (n: number): Uint8Array => (calls++ === 0 ? new Uint8Array(n).fill(255) : new Uint8Array(n).fill(1));
    expect(generateRoomId('hs', random)).toBe(`!${'B'.repeat(18)}:hs`);
  });
});
