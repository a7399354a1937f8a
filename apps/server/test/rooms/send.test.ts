import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, request, V1, type Account, type TestServer } from '../helpers/index.js';
import { enc, publicRoomWith, room, roomApi, startRoomServer, storedTimeline, streamPosition, type ErrorBody } from './util.js';

let srv: TestServer;
let api: ReturnType<typeof roomApi>;
let alice: Account;
let bob: Account;
let roomId: string;
beforeAll(async () => {
  srv = await startRoomServer();
  api = roomApi(srv);
  [alice, bob] = await Promise.all([api.register(), api.register()]);
  roomId = await publicRoomWith(api, alice, bob);
});
afterAll(async () => {
  expect(srv.specViolations()).toEqual([]);
  await srv.close();
});

const errcode = (res: { body: unknown }): string => (res.body as ErrorBody).errcode;
const MSG = { msgtype: 'm.text', body: 'hello' };
const EVENT_ID = /^\$[A-Za-z0-9_\-+/=.]+:localhost$/;

describe('PUT /send/{eventType}/{txnId}', () => {
  it('answers {event_id}; the event is stored as sent', async () => {
    const res = await api.send(alice, roomId, 'm.room.message', MSG, 'put-1');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['event_id']);
    expect(res.body['event_id']).toMatch(EVENT_ID);
    const stored = await srv.hs.context.storage.events.getEvent(res.body['event_id'] as string);
    expect(stored).toMatchObject({ room_id: roomId, type: 'm.room.message', sender: alice.userId, content: MSG });
    expect(stored?.state_key).toBeUndefined();
  });

  it('a retry with the same token and txnId answers the same event_id and stores nothing', async () => {
    const first = await api.send(alice, roomId, 'm.room.message', { msgtype: 'm.text', body: 'once' }, 'retry-1');
    const rows = (await storedTimeline(srv, roomId)).length;
    const pos = await streamPosition(srv);
    for (let i = 0; i < 3; i++) {
      const again = await api.send(alice, roomId, 'm.room.message', { msgtype: 'm.text', body: 'once' }, 'retry-1');
      expect(again.status).toBe(200);
      expect(again.body['event_id']).toBe(first.body['event_id']);
    }
    expect((await storedTimeline(srv, roomId)).length).toBe(rows);
    expect(await streamPosition(srv)).toBe(pos);
  });

  it('concurrent retries also store one event', async () => {
    const rows = (await storedTimeline(srv, roomId)).length;
    const all = await Promise.all(Array.from({ length: 5 }, () => api.send(alice, roomId, 'm.room.message', MSG, 'concurrent-1')));
    expect(new Set(all.map((r) => r.body['event_id'])).size).toBe(1);
    expect((await storedTimeline(srv, roomId)).length).toBe(rows + 1);
  });

  it('the same txnId from another access token (or another user) is a new event', async () => {
    const mine = await api.send(alice, roomId, 'm.room.message', MSG, 'shared-txn');
    const relog = await login(srv.baseUrl, alice.userId, alice.password);
    expect(relog.status).toBe(200);
    const otherToken = { ...alice, accessToken: relog.body['access_token'] as string };
    const fromOtherToken = await api.send(otherToken, roomId, 'm.room.message', MSG, 'shared-txn');
    const fromBob = await api.send(bob, roomId, 'm.room.message', MSG, 'shared-txn');
    expect(fromOtherToken.status).toBe(200);
    expect(fromBob.status).toBe(200);
    expect(new Set([mine.body['event_id'], fromOtherToken.body['event_id'], fromBob.body['event_id']]).size).toBe(3);
  });

  it('a failed send does not use up the txnId', async () => {
    const bad = await api.send(alice, roomId, 'm.room.message', { msgtype: 'm.text', body: 5 }, 'after-fail');
    expect(bad.status).toBe(400);
    const good = await api.send(alice, roomId, 'm.room.message', MSG, 'after-fail');
    expect(good.status).toBe(200);
  });
});

describe('idempotency survives a restart', () => {
  it('the retried PUT answers the same event_id from a new server on the same database', async () => {
    let s = await startRoomServer();
    try {
      let a = roomApi(s);
      const carol = await a.register();
      const r = await a.createRoom(carol, {});
      const first = await a.send(carol, r, 'm.room.message', MSG, 'restart-txn');
      expect(first.status).toBe(200);
      const before = await streamPosition(s);
      expect(s.specViolations()).toEqual([]);
      s = await s.restart();
      a = roomApi(s);
      expect(await streamPosition(s)).toBe(before);
      const again = await a.send(carol, r, 'm.room.message', MSG, 'restart-txn');
      expect(again.status).toBe(200);
      expect(again.body['event_id']).toBe(first.body['event_id']);
      expect(await streamPosition(s)).toBe(before);
      expect((await storedTimeline(s, r)).filter((e) => e.type === 'm.room.message')).toHaveLength(1);
      // and the server still works: a new txnId is a new event
      const next = await a.send(carol, r, 'm.room.message', MSG, 'restart-txn-2');
      expect(next.body['event_id']).not.toBe(first.body['event_id']);
      expect(s.specViolations()).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('POST /send/{eventType}', () => {
  it('answers {event_id}; each POST is a new event', async () => {
    const rows = (await storedTimeline(srv, roomId)).length;
    const a = await api.post(alice, roomId, 'm.room.message', MSG);
    const b = await api.post(alice, roomId, 'm.room.message', MSG);
    expect(a.status).toBe(200);
    expect(a.body['event_id']).toMatch(EVENT_ID);
    expect(b.body['event_id']).not.toBe(a.body['event_id']);
    expect((await storedTimeline(srv, roomId)).length).toBe(rows + 2);
  });
});

describe('event types and schemas', () => {
  it.each([
    ['a custom type with any content', 'org.example.thing', { anything: [1, { nested: true }], n: null }],
    ['a custom type with empty content', 'com.example.empty', {}],
    ['m.room.message m.emote', 'm.room.message', { msgtype: 'm.emote', body: 'waves' }],
    ['m.room.message with a custom msgtype', 'm.room.message', { msgtype: 'org.example.poll', body: 'poll' }],
    ['m.room.message with extra keys', 'm.room.message', { msgtype: 'm.text', body: 'b', format: 'org.matrix.custom.html', formatted_body: '<b>b</b>' }],
  ])('accepted: %s', async (_name, type, content) => {
    for (const res of [await api.send(alice, roomId, type, content), await api.post(alice, roomId, type, content)]) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const stored = await srv.hs.context.storage.events.getEvent(res.body['event_id'] as string);
      expect(stored).toMatchObject({ type, content });
    }
  });

  it.each([
    ['m.room.message without msgtype', 'm.room.message', { body: 'x' }],
    ['m.room.message without body', 'm.room.message', { msgtype: 'm.text' }],
    ['m.room.message with a numeric body', 'm.room.message', { msgtype: 'm.text', body: 5 }],
    ['m.room.message with a non-string msgtype', 'm.room.message', { msgtype: 1, body: 'x' }],
  ])('refused with 400 M_BAD_JSON: %s (PUT and POST), nothing stored', async (_name, type, content) => {
    const pos = await streamPosition(srv);
    for (const res of [await api.send(alice, roomId, type, content), await api.post(alice, roomId, type, content)]) {
      expect(res.status).toBe(400);
      expect(errcode(res)).toBe('M_BAD_JSON');
    }
    expect(await streamPosition(srv)).toBe(pos);
  });

  it.each([
    ['an array', '[]', ['M_BAD_JSON', 'M_NOT_JSON']],
    ['a string', '"hi"', ['M_BAD_JSON', 'M_NOT_JSON']],
    ['not JSON', '{"msgtype":', ['M_NOT_JSON']],
  ])('a body that is %s: 400', async (_name, body, codes) => {
    const res = await request(srv.baseUrl, 'PUT', `${room(roomId)}/send/m.room.message/${enc(`bad-${Math.random()}`)}`, { token: alice.accessToken, body });
    expect(res.status).toBe(400);
    expect(codes).toContain(errcode(res));
  });

  it('an event type over 255 characters: 400', async () => {
    const res = await api.send(alice, roomId, `org.example.${'x'.repeat(260)}`, {});
    expect(res.status).toBe(400);
  });
});

describe('size limit', () => {
  it('an event over 65,536 bytes: 413 M_TOO_LARGE, nothing stored; just under the limit is fine', async () => {
    const pos = await streamPosition(srv);
    for (const res of [
      await api.send(alice, roomId, 'm.room.message', { msgtype: 'm.text', body: 'x'.repeat(66_000) }),
      await api.post(alice, roomId, 'org.example.big', { blob: 'y'.repeat(65_536) }),
      await api.putState(alice, roomId, 'org.example.bigstate', 'k', { blob: 'z'.repeat(70_000) }),
    ]) {
      expect(res.status).toBe(413);
      expect(errcode(res)).toBe('M_TOO_LARGE');
    }
    expect(await streamPosition(srv)).toBe(pos);
    const ok = await api.send(alice, roomId, 'm.room.message', { msgtype: 'm.text', body: 'x'.repeat(64_000) });
    expect(ok.status).toBe(200);
  });

  it('multi-byte characters count as bytes, not characters', async () => {
    // 30,000 three-byte characters: 90,000 bytes of JSON
    const res = await api.send(alice, roomId, 'm.room.message', { msgtype: 'm.text', body: '\u20ac'.repeat(30_000) });
    expect(res.status).toBe(413);
  });
});

describe('who may send', () => {
  it.each([
    ['not in the room', 'outsider', 403, 'M_FORBIDDEN'],
    ['invited but not joined', 'invited', 403, 'M_FORBIDDEN'],
    ['left', 'left', 403, 'M_FORBIDDEN'],
    ['an unknown room', 'noroom', 404, 'M_NOT_FOUND'],
  ])('%s', async (_name, scenario, status, code) => {
    const dave = await api.register();
    const r = await api.createRoom(alice, { preset: 'public_chat' });
    if (scenario === 'invited') expect((await api.invite(alice, r, dave.userId)).status).toBe(200);
    if (scenario === 'left') {
      expect((await api.join(dave, r)).status).toBe(200);
      expect((await api.leave(dave, r)).status).toBe(200);
    }
    const target = scenario === 'noroom' ? '!nope:localhost' : r;
    const pos = await streamPosition(srv);
    for (const res of [await api.send(dave, target, 'm.room.message', MSG), await api.post(dave, target, 'org.example.x', {})]) {
      expect(res.status).toBe(status);
      expect(errcode(res)).toBe(code);
    }
    expect(await streamPosition(srv)).toBe(pos);
  });

  it('no access token: 401', async () => {
    const res = await request(srv.baseUrl, 'POST', `${V1}/rooms/${enc(roomId)}/send/m.room.message`, { body: MSG });
    expect(res.status).toBe(401);
  });
});
