/**
 * Every helper against a real Axon (the `axon` command in a child process, 127.0.0.1, port 0).
 * The server is built in stages; groups whose server feature is missing are skipped with a
 * loud PENDING line (skipped, never counted as passed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, isMatrixError, MatrixError, type MatrixClient, type RoomEvent } from '../src/index.js';
import { pendingOn, probeServer, startAxon, type AxonProcess } from './helpers/axon.js';

const features = await probeServer();
let axon: AxonProcess;
let anon: MatrixClient;
let n = 0;
const unique = (prefix: string): string => `${prefix}${Date.now().toString(36)}${++n}`;
const expectMatrixError = async (promise: Promise<unknown>, httpStatus: number, errcode: string): Promise<MatrixError> => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(MatrixError);
  if (!isMatrixError(error)) throw new Error('unreachable');
  expect({ httpStatus: error.httpStatus, errcode: error.errcode }).toEqual({ httpStatus, errcode });
  return error;
};

beforeAll(async () => {
  if (!features.starts) return;
  axon = await startAxon();
  anon = createClient({ baseUrl: axon.url });
}, 30_000);
afterAll(async () => { await axon?.stop(); });

describe.skipIf(pendingOn(features, 'accounts', 'client account helpers (issue 3)'))('accounts (real server)', () => {
  it('should register through v2_alpha, completing m.login.dummy, and return an authenticated client', async () => {
    const name = unique('v2');
    const alice = await anon.register({ username: name, password: 'pw-alice-1' });
    expect(alice.userId).toBe(`@${name}:localhost`);
    expect(alice.accessToken).toEqual(expect.any(String));
    await alice.logout(); // authenticated call succeeds
  });

  it('should register through the legacy v1 API', async () => {
    const name = unique('v1');
    const bob = await anon.register({ username: name, password: 'pw-bob-1', api: 'v1' });
    expect(bob.userId).toBe(`@${name}:localhost`);
    await bob.logout();
  });

  it('should throw MatrixError M_USER_IN_USE for a taken name', async () => {
    const name = unique('dup');
    await anon.register({ username: name, password: 'pw' });
    await expectMatrixError(anon.register({ username: name, password: 'pw' }), 400, 'M_USER_IN_USE');
    await expectMatrixError(anon.register({ username: name, password: 'pw', api: 'v1' }), 400, 'M_USER_IN_USE');
  });

  it('should log in by local part and by full user id, and reject a wrong password with M_FORBIDDEN', async () => {
    const name = unique('login');
    await anon.register({ username: name, password: 'right-password' });
    const byLocal = await anon.login(name, 'right-password');
    expect(byLocal.userId).toBe(`@${name}:localhost`);
    const byFull = await anon.login(`@${name}:localhost`, 'right-password');
    expect(byFull.accessToken).not.toBe(byLocal.accessToken);
    await expectMatrixError(anon.login(name, 'wrong-password'), 403, 'M_FORBIDDEN');
  });

  it('should end the token on logout (header and query placements)', async () => {
    const name = unique('logout');
    const viaHeader = await anon.register({ username: name, password: 'pw' });
    await viaHeader.logout();
    await expectMatrixError(viaHeader.logout(), 401, 'M_UNKNOWN_TOKEN');

    const session = await anon.login(name, 'pw');
    const viaQuery = createClient({ baseUrl: axon.url, accessToken: session.accessToken!, tokenIn: 'query' });
    await viaQuery.logout();
    await expectMatrixError(viaQuery.logout(), 401, 'M_UNKNOWN_TOKEN');
    await expectMatrixError(anon.logout(), 401, 'M_MISSING_TOKEN');
  });

  it('should leave raw calls in openapi-fetch style: {data, error}, no throw', async () => {
    const { data, error, response } = await anon.raw.POST('/_matrix/client/api/v1/login', {
      body: { type: 'm.login.password', user: unique('nobody'), password: 'x' },
    });
    expect(data).toBeUndefined();
    expect(response.status).toBe(403);
    expect(error).toMatchObject({ errcode: 'M_FORBIDDEN' });
  });
});

describe.skipIf(pendingOn(features, 'rooms', 'client room helpers (issue 4)'))('rooms (real server)', () => {
  let alice: MatrixClient;
  let bob: MatrixClient;
  beforeAll(async () => {
    alice = await anon.register({ username: unique('alice'), password: 'pw' });
    bob = await anon.register({ username: unique('bob'), password: 'pw' });
  });

  it('should create a room, invite, join, send, set and get state, and leave', async () => {
    const { room_id: roomId } = await alice.createRoom({ name: 'Helpers', preset: 'private_chat' });
    expect(roomId).toMatch(/^!.+:localhost$/);
    await expectMatrixError(bob.join(roomId), 403, 'M_FORBIDDEN'); // invite-only
    await alice.invite(roomId, bob.userId!);
    expect(await bob.join(roomId)).toEqual({ room_id: roomId });

    const sent = await bob.sendText(roomId, 'hello');
    expect(sent.event_id).toMatch(/^\$/);
    const custom = await alice.send(roomId, 'org.example.ping', { n: 1 });
    expect(custom.event_id).not.toBe(sent.event_id);

    await alice.setState(roomId, 'm.room.topic', { topic: 'typed' });
    expect(await bob.getState(roomId, 'm.room.topic')).toEqual({ topic: 'typed' });
    await alice.setState(roomId, 'org.example.keyed', { v: 2 }, 'k1');
    expect(await alice.getState(roomId, 'org.example.keyed', 'k1')).toEqual({ v: 2 });
    await expectMatrixError(alice.getState(roomId, 'org.example.keyed', 'absent'), 404, 'M_NOT_FOUND');

    await bob.leave(roomId);
    await expectMatrixError(bob.sendText(roomId, 'after leaving'), 403, 'M_FORBIDDEN');
  });

  it('should join a public room by alias', async () => {
    const alias = unique('pub');
    const { room_id: roomId, room_alias: roomAlias } = await alice.createRoom({ room_alias_name: alias, preset: 'public_chat' });
    expect(roomAlias).toBe(`#${alias}:localhost`);
    expect(await bob.join(`#${alias}:localhost`)).toEqual({ room_id: roomId });
  });

  it('should make every send a new event, and a repeated txnId the same event', async () => {
    const { room_id: roomId } = await alice.createRoom();
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => alice.sendText(roomId, `burst ${i}`)));
    expect(new Set(ids.map((r) => r.event_id)).size).toBe(20);
    const first = await alice.sendText(roomId, 'once', { txnId: 'fixed-txn' });
    const again = await alice.sendText(roomId, 'once', { txnId: 'fixed-txn' });
    expect(again.event_id).toBe(first.event_id);
  });

  it('should throw M_NOT_FOUND for an unknown alias and M_UNKNOWN_TOKEN for a bad token', async () => {
    await expectMatrixError(alice.join('#nowhere:localhost'), 404, 'M_NOT_FOUND');
    const bad = createClient({ baseUrl: axon.url, accessToken: 'not-a-token' });
    await expectMatrixError(bad.createRoom(), 401, 'M_UNKNOWN_TOKEN');
  });
});

describe.skipIf(pendingOn(features, 'sync', 'client sync helpers: initialSync, getEvent, events(), messages() (issue 5)'))('sync (real server)', () => {
  let alice: MatrixClient;
  let bob: MatrixClient;
  let roomId: string;
  beforeAll(async () => {
    alice = await anon.register({ username: unique('alice'), password: 'pw' });
    bob = await anon.register({ username: unique('bob'), password: 'pw' });
    ({ room_id: roomId } = await alice.createRoom({ preset: 'public_chat', name: 'Sync' }));
    await bob.join(roomId);
  });

  it('should return the room, its state, its messages and an end token from initialSync()', async () => {
    const { event_id: eventId } = await alice.sendText(roomId, 'in initial sync');
    const sync = await bob.initialSync({ limit: 5 });
    expect(sync.end).toEqual(expect.any(String));
    const room = sync.rooms.find((r) => r.room_id === roomId);
    expect(room?.membership).toBe('join');
    expect(room?.messages?.chunk.map((e) => e.event_id)).toContain(eventId);
    expect(room?.state?.some((e) => e.type === 'm.room.name')).toBe(true);
  });

  it('should fetch one event with getEvent(), and throw 404 for an unknown one', async () => {
    const { event_id: eventId } = await alice.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'fetch me' });
    const event = await bob.getEvent(eventId);
    expect(event).toMatchObject({ type: 'm.room.message', content: { body: 'fetch me' } });
    const error = await bob.getEvent('$unknown:localhost').then(() => undefined, (e: unknown) => e);
    expect(isMatrixError(error) && error.httpStatus).toBe(404);
  });

  it('should stream events from the initialSync end token, in order, exposing the resume token', async () => {
    const { end } = await bob.initialSync({ limit: 0 });
    const controller = new AbortController();
    const stream = bob.events({ from: end, timeout: 5000, signal: controller.signal });
    const sent: string[] = [];
    const sender = (async () => { for (let i = 0; i < 5; i++) sent.push((await alice.sendText(roomId, `live ${i}`)).event_id); })();
    const received: string[] = [];
    for await (const batch of stream) {
      expect(stream.token).toBe(batch.end);
      for (const event of batch.events) if (event.type === 'm.room.message' && event.room_id === roomId) received.push(event.event_id ?? '?');
      if (received.length >= 5) break;
    }
    await sender;
    expect(received).toEqual(sent);
  });

  it('should stop a waiting long-poll cleanly on abort', async () => {
    const { end } = await bob.initialSync({ limit: 0 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 200);
    const batches = [];
    for await (const batch of bob.events({ from: end, timeout: 20_000, signal: controller.signal })) batches.push(batch);
    expect(batches).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('should page backwards through the whole history with messages()', async () => {
    const { room_id: history } = await alice.createRoom({ name: 'History' });
    const sent: string[] = [];
    for (let i = 0; i < 23; i++) sent.push((await alice.sendText(history, `m${i}`)).event_id);
    const seen: RoomEvent[] = [];
    let pages = 0;
    for await (const page of alice.messages(history, { dir: 'b', limit: 7 })) {
      pages += 1;
      expect(page.events.length).toBeLessThanOrEqual(7);
      seen.push(...page.events);
    }
    const ids = seen.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    const messages = seen.filter((e) => e.type === 'm.room.message').map((e) => e.event_id);
    expect(messages).toEqual([...sent].reverse());
    expect(seen.at(-1)?.type).toBe('m.room.create'); // reached the start of the room
    expect(pages).toBeGreaterThanOrEqual(4);
  });
});
