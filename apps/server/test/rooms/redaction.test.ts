import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { V1, type Account, type TestServer } from '../helpers/index.js';
import { enc, publicRoomWith, room, roomApi, startRoomServer, storedTimeline, streamPosition, type ErrorBody, type ServedEvent } from './util.js';

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

const errcode = (res: { body: unknown }): string => (res.body as ErrorBody).errcode;
const users = (n: number): Promise<Account[]> => Promise.all(Array.from({ length: n }, () => api.register()));
const MSG = { msgtype: 'm.text', body: 'secret', extra: { deep: 1 } };

describe('PUT and POST /redact', () => {
  it('PUT: one\'s own event needs no level; answers {event_id}; a retry is idempotent', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    await api.setPowerLevels(alice!, roomId, (pl) => ({ ...pl, redact: 100 }));
    const target = await api.sendOk(bob!, roomId, 'm.room.message', MSG);
    const res = await api.redact(bob!, roomId, target, { reason: 'typo' }, 'r-1');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['event_id']);
    expect(res.body['event_id']).toMatch(/^\$.+:localhost$/);
    const pos = await streamPosition(srv);
    const again = await api.redact(bob!, roomId, target, { reason: 'typo' }, 'r-1');
    expect(again.body['event_id']).toBe(res.body['event_id']);
    expect(await streamPosition(srv)).toBe(pos);
    const redaction = await srv.hs.context.storage.events.getEvent(res.body['event_id'] as string);
    expect(redaction).toMatchObject({ type: 'm.room.redaction', redacts: target, sender: bob!.userId, content: { reason: 'typo' } });
  });

  it('POST: each call is a new redaction event; the body may be empty', async () => {
    const [alice] = await users(1);
    const roomId = await api.createRoom(alice!, {});
    const target = await api.sendOk(alice!, roomId, 'm.room.message', MSG);
    const a = await api.postRedact(alice!, roomId, target, {});
    expect(a.status).toBe(200);
    expect(a.body['event_id']).toMatch(/^\$.+:localhost$/);
    const b = await api.postRedact(alice!, roomId, target, {});
    expect(b.status).toBe(200);
    expect(b.body['event_id']).not.toBe(a.body['event_id']);
  });

  it.each([
    ['another\'s event without the redact level', 'lowlevel', 403, 'M_FORBIDDEN'],
    ['by a non-member', 'outsider', 403, 'M_FORBIDDEN'],
    ['an unknown event', 'noevent', 404, 'M_NOT_FOUND'],
    ['an event of another room', 'otherroom', 404, 'M_NOT_FOUND'],
    ['in an unknown room', 'noroom', 404, 'M_NOT_FOUND'],
    ['a reason that is not a string', 'badreason', 400, undefined],
  ])('refused: %s', async (_name, scenario, status, code) => {
    const [alice, bob, carol] = await users(3);
    const roomId = await publicRoomWith(api, alice!, bob!);
    const other = await api.createRoom(alice!, {});
    const target = await api.sendOk(alice!, roomId, 'm.room.message', MSG);
    const elsewhere = await api.sendOk(alice!, other, 'm.room.message', MSG);
    let who = alice!;
    let inRoom = roomId;
    let eventId = target;
    let body: unknown = {};
    if (scenario === 'lowlevel') who = bob!;
    if (scenario === 'outsider') who = carol!;
    if (scenario === 'noevent') eventId = '$nope:localhost';
    if (scenario === 'otherroom') eventId = elsewhere;
    if (scenario === 'noroom') inRoom = '!nope:localhost';
    if (scenario === 'badreason') body = { reason: 5 };
    const pos = await streamPosition(srv);
    for (const res of [await api.redact(who, inRoom, eventId, body), await api.postRedact(who, inRoom, eventId, body)]) {
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      if (code) expect(errcode(res)).toBe(code);
    }
    expect(await streamPosition(srv)).toBe(pos);
    expect((await srv.hs.context.storage.events.getEvent(target))?.content).toEqual(MSG);
  });

  it('another\'s event with the redact level: allowed', async () => {
    const [alice, bob] = await users(2);
    const roomId = await publicRoomWith(api, alice!, bob!);
    const target = await api.sendOk(bob!, roomId, 'm.room.message', MSG);
    expect((await api.redact(alice!, roomId, target)).status).toBe(200);
    expect((await srv.hs.context.storage.events.getEvent(target))?.content).toEqual({});
  });
});

describe('the redacted content is stripped wherever it is served', () => {
  async function redactedRoom() {
    const [alice, bob] = await users(2);
    const roomId = await api.createRoom(alice!, { preset: 'public_chat' });
    const profile = await api.call('PUT', `${V1}/profile/${enc(bob!.userId)}/displayname`, bob!.accessToken, { displayname: 'Bobby' });
    expect((await api.join(bob!, roomId)).status).toBe(200);
    const topic = await api.putStateOk(alice!, roomId, 'm.room.topic', undefined, { topic: 'secret topic' });
    const jr = await api.putStateOk(alice!, roomId, 'm.room.join_rules', undefined, { join_rule: 'public', extra: 'drop me' });
    const pl = await api.getState(alice!, roomId, 'm.room.power_levels');
    const plId = await api.putStateOk(alice!, roomId, 'm.room.power_levels', undefined, { ...pl.body, notes: 'drop me' });
    const memberId = (await api.stateEvent(alice!, roomId, 'm.room.member', bob!.userId))!.event_id;
    const msg = await api.sendOk(bob!, roomId, 'm.room.message', MSG);
    const redactions: Record<string, string> = {};
    for (const id of [topic, jr, plId, memberId, msg]) {
      const r = await api.redact(alice!, roomId, id, { reason: 'cleanup' });
      expect(r.status).toBe(200);
      redactions[id] = r.body['event_id'] as string;
    }
    return { alice: alice!, bob: bob!, roomId, topic, jr, plId, memberId, msg, redactions, pl: pl.body, hasProfile: profile.status === 200 };
  }

  const expectRedactedBecause = (ev: ServedEvent | undefined, redactionId: string, redacter: string) => {
    expect(ev?.unsigned.redacted_because).toMatchObject({ event_id: redactionId, type: 'm.room.redaction', sender: redacter, content: { reason: 'cleanup' } });
  };

  it('GET /state/{type}: pruned content per the redaction algorithm', async () => {
    const r = await redactedRoom();
    expect((await api.getState(r.alice, r.roomId, 'm.room.topic')).body).toEqual({});
    expect((await api.getState(r.alice, r.roomId, 'm.room.join_rules')).body).toEqual({ join_rule: 'public' });
    expect((await api.getState(r.alice, r.roomId, 'm.room.member', r.bob.userId)).body).toEqual({ membership: 'join' });
    const { users: u, users_default, events, events_default, state_default, ban, kick, redact } = r.pl as Record<string, unknown>;
    const plKept = Object.fromEntries(Object.entries({ users: u, users_default, events, events_default, state_default, ban, kick, redact }).filter(([, v]) => v !== undefined));
    expect((await api.getState(r.alice, r.roomId, 'm.room.power_levels')).body).toEqual(plKept);
  });

  it('GET /state and /members: pruned, with unsigned.redacted_because', async () => {
    const r = await redactedRoom();
    const all = (await api.allState(r.alice, r.roomId)).body;
    const topic = all.find((e) => e.type === 'm.room.topic');
    expect(topic?.content).toEqual({});
    expectRedactedBecause(topic, r.redactions[r.topic]!, r.alice.userId);
    expectRedactedBecause(all.find((e) => e.type === 'm.room.join_rules'), r.redactions[r.jr]!, r.alice.userId);
    const members = (await api.members(r.alice, r.roomId)).body.chunk;
    const bobs = members.find((e) => e.state_key === r.bob.userId);
    expect(bobs?.content).toEqual({ membership: 'join' });
    expectRedactedBecause(bobs, r.redactions[r.memberId]!, r.alice.userId);
    // nothing unredacted leaks anywhere in these bodies
    const text = JSON.stringify([all, members]);
    expect(text).not.toContain('secret topic');
    expect(text).not.toContain('drop me');
    if (r.hasProfile) expect(text).not.toContain('Bobby');
  });

  it('the stored message is pruned and keeps redacted_because; the redaction itself is intact', async () => {
    const r = await redactedRoom();
    const stored = await srv.hs.context.storage.events.getEvent(r.msg);
    expect(stored?.content).toEqual({});
    expect(stored?.redacted_because?.event_id).toBe(r.redactions[r.msg]);
    const redaction = await srv.hs.context.storage.events.getEvent(r.redactions[r.msg]!);
    expect(redaction?.content).toEqual({ reason: 'cleanup' });
    const timeline = await storedTimeline(srv, r.roomId);
    expect(JSON.stringify(timeline)).not.toContain('secret');
  });

  it('a later state event does not leak the redacted predecessor as prev_content', async () => {
    const r = await redactedRoom();
    await api.putStateOk(r.alice, r.roomId, 'm.room.topic', undefined, { topic: 'new topic' });
    const topic = (await api.allState(r.alice, r.roomId)).body.find((e) => e.type === 'm.room.topic');
    expect(topic?.content).toEqual({ topic: 'new topic' });
    expect(topic?.prev_content).toEqual({});
    expect(topic?.unsigned.prev_content).toEqual({});
    expect(topic?.replaces_state).toBe(r.topic);
  });

  it('redacting before a replacement: the replacement\'s prev_content is pruned too', async () => {
    const [alice] = await users(1);
    const roomId = await api.createRoom(alice!, {});
    const first = await api.putStateOk(alice!, roomId, 'm.room.topic', undefined, { topic: 'one' });
    await api.putStateOk(alice!, roomId, 'm.room.topic', undefined, { topic: 'two' });
    expect((await api.redact(alice!, roomId, first)).status).toBe(200);
    const topic = (await api.allState(alice!, roomId)).body.find((e) => e.type === 'm.room.topic');
    expect(topic?.content).toEqual({ topic: 'two' });
    expect(topic?.prev_content).toEqual({});
  });

  it('the redaction does not change the room\'s state (join rules stay in force)', async () => {
    const r = await redactedRoom();
    const carol = await api.register();
    expect((await api.join(carol, r.roomId)).status).toBe(200);
  });

  it('sync path GET /events (the stream) serves the redacted form', async () => {
    const probe = await api.register();
    const start = await api.call<{ end: string }>('GET', `${V1}/events?timeout=0`, probe.accessToken);
    expect(start.status).toBe(200);
    const r = await redactedRoom();
    // from a position taken (by another user) before the room existed
    const res = await api.call<{ chunk: ServedEvent[] }>('GET', `${V1}/events?timeout=0&limit=1000&from=${enc(start.body.end)}`, r.alice.accessToken);
    expect(res.status).toBe(200);
    const msg = res.body.chunk.find((e) => e.event_id === r.msg);
    expect(msg, 'the redacted message is in the stream').toBeDefined();
    expect(msg?.content).toEqual({});
    expectRedactedBecause(msg, r.redactions[r.msg]!, r.alice.userId);
    expect(JSON.stringify(res.body)).not.toContain('secret');
  });

  // Every sync read path serves the redacted form.
  it.for([
    ['GET /events/{eventId}', (r: Awaited<ReturnType<typeof redactedRoom>>) => api.call<ServedEvent>('GET', `${V1}/events/${enc(r.msg)}`, r.alice.accessToken),
      (body: unknown) => [body as ServedEvent]],
    ['GET /rooms/{roomId}/messages', (r: Awaited<ReturnType<typeof redactedRoom>>) => api.call('GET', `${room(r.roomId)}/messages?dir=b&limit=100`, r.alice.accessToken),
      (body: unknown) => (body as { chunk: ServedEvent[] }).chunk],
    ['GET /rooms/{roomId}/initialSync', (r: Awaited<ReturnType<typeof redactedRoom>>) => api.call('GET', `${room(r.roomId)}/initialSync?limit=100`, r.alice.accessToken),
      (body: unknown) => [...(body as { messages: { chunk: ServedEvent[] } }).messages.chunk, ...(body as { state: ServedEvent[] }).state]],
    ['GET /initialSync', (r: Awaited<ReturnType<typeof redactedRoom>>) => api.call('GET', `${V1}/initialSync?limit=100`, r.alice.accessToken),
      (body: unknown) => (body as { rooms: { room_id: string; messages?: { chunk: ServedEvent[] }; state?: ServedEvent[] }[] }).rooms
        .flatMap((rm) => [...(rm.messages?.chunk ?? []), ...(rm.state ?? [])])],
  ] as const)('sync path %s serves the redacted form', async ([, read, eventsOf]) => {
    const r = await redactedRoom();
    const res = await read(r);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const events = eventsOf(res.body);
    const msg = events.find((e) => e.event_id === r.msg);
    expect(msg, 'the redacted message is served').toBeDefined();
    expect(msg?.content).toEqual({});
    expectRedactedBecause(msg, r.redactions[r.msg]!, r.alice.userId);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('secret');
    expect(text).not.toContain('drop me');
  });
});
