/**
 * An unmodified matrix-js-sdk 0.3.0, the last release that syncs through /initialSync and
 * /events, against a real Axon: register, log in, create a room, join, send, and see
 * messages and state changes arrive through the SDK's own sync loop.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, register, startServer, type TestServer } from '../../../apps/server/test/helpers/index.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = require('matrix-js-sdk') as LegacySdk;
sdk.request(require('request'));

interface LegacyEvent { getType(): string; getContent(): Record<string, unknown>; getRoomId(): string; getSender(): string; getId(): string }
interface LegacyRoom { roomId: string; name: string; timeline: LegacyEvent[]; currentState: { members: Record<string, { membership: string }> } }
interface LegacyClient {
  startClient(opts?: { initialSyncLimit?: number }): void;
  stopClient(): void;
  on(event: string, fn: (...args: never[]) => void): void;
  removeAllListeners(): void;
  createRoom(opts: Record<string, unknown>): Promise<{ room_id: string }>;
  joinRoom(roomId: string): Promise<unknown>;
  sendTextMessage(roomId: string, body: string): Promise<{ event_id: string }>;
  setRoomName(roomId: string, name: string): Promise<unknown>;
  invite(roomId: string, userId: string): Promise<unknown>;
  loginWithPassword(user: string, password: string): Promise<{ user_id: string; access_token: string }>;
  getRoom(roomId: string): LegacyRoom | null;
  getRooms(): LegacyRoom[];
}
interface LegacySdk {
  request(r: unknown): void;
  createClient(opts: { baseUrl: string; accessToken?: string; userId?: string }): LegacyClient;
}

let srv: TestServer;
const clients: LegacyClient[] = [];
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => {
  for (const c of clients) { c.stopClient(); c.removeAllListeners(); }
  await srv.close();
});

/** Resolves when the client emits `name` with arguments `pred` accepts. */
function waitFor<T extends unknown[]>(client: LegacyClient, name: string, pred: (...args: T) => boolean, ms = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${name}`)), ms);
    client.on(name, ((...args: T) => {
      if (pred(...args)) { clearTimeout(timer); resolve(args); }
    }) as never);
  });
}

async function startedClient(user: { userId: string; accessToken: string }): Promise<LegacyClient> {
  const client = sdk.createClient({ baseUrl: srv.baseUrl, accessToken: user.accessToken, userId: user.userId });
  clients.push(client);
  const synced = waitFor(client, 'syncComplete', () => true);
  const errors: unknown[] = [];
  client.on('syncError', ((err: unknown) => { errors.push(err); }) as never);
  client.startClient({ initialSyncLimit: 10 });
  await synced;
  expect(errors).toEqual([]);
  return client;
}

describe('matrix-js-sdk 0.3.0', () => {
  it('logs in, syncs, and sees messages and state changes arrive', async () => {
    const aliceAccount = await register(srv.baseUrl);
    const bobAccount = await register(srv.baseUrl);
    // log in through the SDK, then sync with that token
    const anon = sdk.createClient({ baseUrl: srv.baseUrl });
    const creds = await anon.loginWithPassword(aliceAccount.userId, aliceAccount.password);
    expect(creds.user_id).toBe(aliceAccount.userId);
    const alice = await startedClient({ userId: creds.user_id, accessToken: creds.access_token });
    const bob = await startedClient(bobAccount);
    expect((await login(srv.baseUrl, bobAccount.userId, bobAccount.password)).status).toBe(200);

    const { room_id: roomId } = await alice.createRoom({ preset: 'public_chat', name: 'Legacy' });
    await waitFor<[LegacyEvent]>(alice, 'event', (e) => e.getRoomId() === roomId && e.getType() === 'm.room.name');
    expect(alice.getRoom(roomId)?.name).toBe('Legacy');

    const bobJoined = waitFor<[LegacyEvent]>(alice, 'event', (e) => e.getType() === 'm.room.member' && e.getContent().membership === 'join'
      && (e as unknown as { event: { state_key: string } }).event.state_key === bobAccount.userId);
    await bob.joinRoom(roomId);
    await bobJoined;

    const bobSees = waitFor<[LegacyEvent]>(bob, 'event', (e) => e.getType() === 'm.room.message' && e.getContent().body === 'hello bob');
    const { event_id: sentId } = await alice.sendTextMessage(roomId, 'hello bob');
    const [msg] = await bobSees;
    expect(msg.getId()).toBe(sentId);
    expect(msg.getSender()).toBe(aliceAccount.userId);

    const aliceSees = waitFor<[LegacyEvent]>(alice, 'event', (e) => e.getType() === 'm.room.name' && e.getContent().name === 'Renamed');
    const bobSeesName = waitFor<[LegacyEvent]>(bob, 'event', (e) => e.getType() === 'm.room.name' && e.getContent().name === 'Renamed');
    await alice.setRoomName(roomId, 'Renamed');
    await Promise.all([aliceSees, bobSeesName]);
    expect(bob.getRoom(roomId)?.name).toBe('Renamed');
    expect(bob.getRoom(roomId)?.timeline.some((e) => e.getId() === sentId)).toBe(true);
    // everything the SDK called is served (it also calls /voip/turnServer, /pushrules/, /rooms/{id}/initialSync)
    const unserved = srv.logs.filter((l) => l.msg === 'request' && (l.status === 404 || l.status === 405) && l.operation === undefined);
    expect(unserved.map((l) => l.path)).toEqual([]);
    expect(srv.specViolations()).toEqual([]);
  });
});
