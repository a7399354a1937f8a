import { validateEvent } from '@axon/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { V1, type Account, type TestServer } from '../helpers/index.js';
import { enc, publicRoomWith, roomApi, startRoomServer, type ServedEvent } from './util.js';

let srv: TestServer;
let api: ReturnType<typeof roomApi>;
let alice: Account;
let bob: Account;
let roomId: string;
beforeAll(async () => {
  srv = await startRoomServer();
  api = roomApi(srv);
  [alice, bob] = await Promise.all([api.register(), api.register()]);
  roomId = await api.createRoom(alice, { preset: 'public_chat', name: 'first', topic: 'T' });
  expect((await api.join(bob, roomId)).status).toBe(200);
});
afterAll(async () => {
  expect(srv.specViolations()).toEqual([]);
  await srv.close();
});

function checkServed(ev: ServedEvent, before: number, after: number): void {
  const checked = validateEvent(ev);
  expect(checked.ok, JSON.stringify(checked)).toBe(true);
  expect(ev.event_id).toMatch(/^\$[^:]+:localhost$/);
  expect(ev.room_id).toBe(roomId);
  expect(typeof ev.type).toBe('string');
  expect(typeof ev.content).toBe('object');
  expect(ev.user_id).toBe(ev.sender);
  expect(ev.sender).toMatch(/^@.+:localhost$/);
  expect(Number.isInteger(ev.origin_server_ts)).toBe(true);
  // age is computed when served: now - origin_server_ts, at the top level and in unsigned
  expect(ev.age).toBe(ev.unsigned.age);
  expect(ev.age).toBeGreaterThanOrEqual(before - ev.origin_server_ts - 5);
  expect(ev.age).toBeLessThanOrEqual(after - ev.origin_server_ts + 5);
  expect(typeof ev.state_key).toBe('string');
}

describe('events as served by GET /state and /members', () => {
  it('every field, on every state event, validated by the contract', async () => {
    const before = Date.now();
    const res = await api.allState(alice, roomId);
    const members = await api.members(alice, roomId);
    const after = Date.now();
    expect(res.status).toBe(200);
    expect(res.body.length).toBeGreaterThan(5);
    for (const ev of res.body) checkServed(ev, before, after);
    expect(members.body.chunk.length).toBe(2);
    for (const ev of members.body.chunk) checkServed(ev, before, after);
  });

  it('age grows between reads; origin_server_ts does not change', async () => {
    const first = (await api.stateEvent(alice, roomId, 'm.room.create'))!;
    await new Promise((r) => setTimeout(r, 60));
    const second = (await api.stateEvent(alice, roomId, 'm.room.create'))!;
    expect(second.origin_server_ts).toBe(first.origin_server_ts);
    expect(second.age).toBeGreaterThanOrEqual(first.age + 50);
  });

  it('replaced state carries prev_content and replaces_state (top level and unsigned); first state does not', async () => {
    const nameBefore = (await api.stateEvent(alice, roomId, 'm.room.name'))!;
    expect(nameBefore.prev_content).toBeUndefined();
    expect(nameBefore.replaces_state).toBeUndefined();
    expect(nameBefore.unsigned.prev_content).toBeUndefined();
    const newId = await api.putStateOk(alice, roomId, 'm.room.name', undefined, { name: 'second' });
    const name = (await api.stateEvent(alice, roomId, 'm.room.name'))!;
    expect(name.event_id).toBe(newId);
    expect(name.content).toEqual({ name: 'second' });
    expect(name.prev_content).toEqual({ name: 'first' });
    expect(name.replaces_state).toBe(nameBefore.event_id);
    expect(name.unsigned.prev_content).toEqual({ name: 'first' });
    expect(name.unsigned.replaces_state).toBe(nameBefore.event_id);
    expect(name.unsigned['prev_sender']).toBe(alice.userId);
  });

  it('a membership change shows the previous membership', async () => {
    const dave = await api.register();
    expect((await api.invite(alice, roomId, dave.userId)).status).toBe(200);
    const invite = (await api.stateEvent(alice, roomId, 'm.room.member', dave.userId))!;
    expect((await api.join(dave, roomId)).status).toBe(200);
    const join = (await api.stateEvent(alice, roomId, 'm.room.member', dave.userId))!;
    expect(join.content['membership']).toBe('join');
    expect(join.prev_content).toEqual({ membership: 'invite' });
    expect(join.replaces_state).toBe(invite.event_id);
    expect(join.sender).toBe(dave.userId);
    expect(join.state_key).toBe(dave.userId);
  });

  it('the empty state key is served as "" (never null, never missing)', async () => {
    const res = await api.allState(alice, roomId);
    const create = res.body.find((e) => e.type === 'm.room.create')!;
    expect(Object.hasOwn(create, 'state_key')).toBe(true);
    expect(create.state_key).toBe('');
  });

  it('the raw body has no null values anywhere in an event', async () => {
    const raw = await fetch(`${srv.baseUrl}${V1}/rooms/${enc(roomId)}/state`, { headers: { Authorization: `Bearer ${alice.accessToken}` } });
    const text = await raw.text();
    expect(text).not.toContain(':null');
  });
});

describe('message events as served', () => {
  // What the store keeps, and what GET /events/{eventId} serves.
  it('a message has no state_key at all, in the store and over HTTP', async () => {
    const eventId = await api.sendOk(bob, roomId, 'm.room.message', { msgtype: 'm.text', body: 'hi' });
    const stored = await srv.hs.context.storage.events.getEvent(eventId);
    expect(stored).not.toBeNull();
    expect(Object.hasOwn(stored!, 'state_key')).toBe(false);
    const before = Date.now();
    const res = await api.call<ServedEvent>('GET', `${V1}/events/${enc(eventId)}`, alice.accessToken);
    const after = Date.now();
    expect(res.status).toBe(200);
    const ev = res.body;
    expect(Object.hasOwn(ev, 'state_key')).toBe(false);
    expect(ev.prev_content).toBeUndefined();
    expect(ev.replaces_state).toBeUndefined();
    expect(validateEvent(ev).ok).toBe(true);
    expect(ev).toMatchObject({ event_id: eventId, type: 'm.room.message', room_id: roomId, sender: bob.userId, user_id: bob.userId, content: { msgtype: 'm.text', body: 'hi' } });
    expect(ev.age).toBe(ev.unsigned.age);
    expect(ev.age).toBeGreaterThanOrEqual(before - ev.origin_server_ts - 5);
    expect(ev.age).toBeLessThanOrEqual(after - ev.origin_server_ts + 5);
  });

  it('event ids are unique and opaque', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => api.sendOk(alice, roomId, 'org.example.n', { i })));
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) expect(id).toMatch(/^\$[A-Za-z0-9_-]{8,}:localhost$/);
  });
});

describe('state events set by others are served the same way', () => {
  it('bob\'s state event on his own key', async () => {
    const r = await publicRoomWith(api, alice, bob);
    await api.setPowerLevels(alice, r, (pl) => ({ ...pl, state_default: 0 }));
    await api.putStateOk(bob, r, 'org.example.status', bob.userId, { status: 'busy' });
    const res = await api.allState(alice, r);
    const ev = res.body.find((e) => e.type === 'org.example.status')!;
    expect(ev).toMatchObject({ sender: bob.userId, user_id: bob.userId, state_key: bob.userId, content: { status: 'busy' }, room_id: r });
    expect(validateEvent(ev).ok).toBe(true);
  });
});
