import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateEvent, validateRequestBody, validateResponse, parseQuery, type ValidationResult } from '../src/index.js';
import { responseExamples, specRoot } from './spec-files.js';

function example(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(specRoot, 'event-schemas/examples', name), 'utf8')) as Record<string, unknown>;
}

function failures(r: ValidationResult): string[] {
  return r.ok ? [] : r.issues.map((i) => `${i.path} ${i.keyword}`);
}

describe('mutated examples fail at the expected path', () => {
  it.each([
    ['m.room.member', (e: any) => { e.content.membership = 'bogus'; }, '/content/membership enum'],
    ['m.room.member', (e: any) => { delete e.state_key; }, ' required'],
    ['m.room.message', (e: any) => { delete e.sender; }, ' required'],
    ['m.room.message', (e: any) => { e.origin_server_ts = 'yesterday'; }, '/origin_server_ts type'],
    ['m.room.power_levels', (e: any) => { e.content.ban = 'fifty'; }, '/content/ban type'],
    ['m.presence', (e: any) => { e.content.presence = 'asleep'; }, '/content/presence enum'],
    ['m.typing', (e: any) => { e.content.user_ids = 'bob'; }, '/content/user_ids type'],
    ['msgtype/m.image', (e: any) => { delete e.content.url; }, '/content required'],
    ['msgtype/m.text', (e: any) => { e.content.body = 5; }, '/content/body type'],
  ] as const)('%s', (name, mutate, expected) => {
    const event = example(name);
    expect(validateEvent(event)).toEqual({ ok: true });
    mutate(event);
    expect(failures(validateEvent(event))).toContain(expected);
  });

  it('an unknown event type is any object with a string type', () => {
    expect(validateEvent({ type: 'org.example.custom', content: { anything: [1, 2] } })).toEqual({ ok: true });
    expect(failures(validateEvent({ type: 7 }))).toEqual(['/type type']);
    expect(failures(validateEvent('m.room.message'))).toEqual([' type']);
  });

  it('event types and msgtypes named like Object.prototype members are unknown types, not lookups', () => {
    for (const type of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(validateEvent({ type, content: { topic: 'x' } })).toEqual({ ok: true });
      const message = { event_id: '$e:hs', room_id: '!r:hs', sender: '@u:hs', user_id: '@u:hs', origin_server_ts: 1, type: 'm.room.message' };
      expect(validateEvent({ ...message, content: { msgtype: type, body: 'x' } })).toEqual({ ok: true });
    }
  });

  it("the seed's initialSync example fails once a room loses its membership", () => {
    const e = responseExamples().find((x) => x.file === 'client-server/old_sync.yaml' && x.path === '/initialSync')!;
    const body = structuredClone(e.example) as { rooms: Record<string, unknown>[]; end: unknown };
    delete body.rooms[0]!.membership;
    body.end = 5;
    expect(failures(validateResponse('getInitialSync', 200, body, { eventSchemas: false })).sort()).toEqual(['/end type', '/rooms/0 required']);
  });

  it('served events are checked against their own schema inside a response', () => {
    const body = { start: 's1', end: 's2', chunk: [example('m.room.message'), { ...example('m.room.member'), content: { membership: 'nope' } }] };
    expect(failures(validateResponse('getEvents', 200, body))).toContain('/chunk/1/content/membership enum');
  });

  it('an undescribed status is reported', () => {
    expect(failures(validateResponse('getEvents', 418, {}))).toEqual([' status']);
  });
});

describe('request bodies and query parameters', () => {
  it('createRoom rejects a wrongly typed field and ignores unknown ones', () => {
    expect(validateRequestBody('createRoom', { name: 'x', something_new: true })).toEqual({ ok: true });
    expect(failures(validateRequestBody('createRoom', { invite: 'bob' }))).toEqual(['/invite type']);
  });

  it('converts integers and booleans and rejects bad values', () => {
    expect(parseQuery('getInitialSync', { limit: '2', archived: 'true', unknown: 'x' })).toEqual({ ok: true, values: { limit: 2, archived: true } });
    expect(parseQuery('getInitialSync', { limit: ['3', '4'] })).toEqual({ ok: true, values: { limit: 3 } });
    expect(failures(parseQuery('getInitialSync', { limit: 'abc' }) as ValidationResult)).toEqual(['/limit type']);
    expect(failures(parseQuery('getInitialSync', { archived: 'maybe' }) as ValidationResult)).toEqual(['/archived type']);
    expect(failures(parseQuery('getRoomEvents', { dir: 'x' }) as ValidationResult)).toEqual(['/dir enum']);
  });
});
