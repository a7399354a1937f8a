/** Helpers shared by the room integration tests: thin wrappers over real HTTP. */
import { expect } from 'vitest';
import type { PersistedEvent } from '../../src/domain/events/types.js';
import { register, request, startServer, V1, type Account, type JsonResponse, type StartOptions, type TestServer } from '../helpers/index.js';

export type Json = Record<string, unknown>;
export interface ServedEvent {
  event_id: string;
  type: string;
  room_id: string;
  sender: string;
  user_id: string;
  content: Json;
  origin_server_ts: number;
  state_key?: string;
  prev_content?: Json;
  replaces_state?: string;
  redacts?: string;
  age: number;
  unsigned: Json & { age: number; redacted_because?: Json; prev_content?: Json; replaces_state?: string };
}
export interface ErrorBody { errcode: string; error: string }

const LAX = { per_second: 10_000, burst_count: 100_000 };
/** A test server whose rate limits never get in the way of a test that registers and sends a lot. */
export function startRoomServer(options: StartOptions = {}): Promise<TestServer> {
  return startServer({ ...options, config: { rc_message: LAX, rc_login: LAX, rc_registration: LAX, ...options.config } });
}

export const enc = encodeURIComponent;
export const room = (roomId: string): string => `${V1}/rooms/${enc(roomId)}`;

let txnCounter = 0;
export const nextTxn = (): string => `txn${process.pid}_${Date.now()}_${++txnCounter}`;

/** Bound helpers for one server. */
export function roomApi(srv: TestServer) {
  const base = (): string => srv.baseUrl;
  const call = <T = Json>(method: string, path: string, token: string | undefined, body?: unknown): Promise<JsonResponse<T>> =>
    request<T>(base(), method, path, { ...(token !== undefined ? { token } : {}), ...(body !== undefined ? { body } : {}) });

  const api = {
    call,
    register: (name?: string): Promise<Account> => register(base(), name),
    async createRoom(who: Account, body: Json = {}): Promise<string> {
      const res = await call<{ room_id: string }>('POST', `${V1}/createRoom`, who.accessToken, body);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.room_id;
    },
    createRoomRaw: (who: Account, body: unknown) => call<Json>('POST', `${V1}/createRoom`, who.accessToken, body),
    join: (who: Account, roomIdOrAlias: string) => call<Json>('POST', `${V1}/join/${enc(roomIdOrAlias)}`, who.accessToken, {}),
    joinById: (who: Account, roomId: string) => call<Json>('POST', `${room(roomId)}/join`, who.accessToken, {}),
    invite: (who: Account, roomId: string, userId: string) => call<Json>('POST', `${room(roomId)}/invite`, who.accessToken, { user_id: userId }),
    leave: (who: Account, roomId: string) => call<Json>('POST', `${room(roomId)}/leave`, who.accessToken, {}),
    forget: (who: Account, roomId: string) => call<Json>('POST', `${room(roomId)}/forget`, who.accessToken, {}),
    kick: (who: Account, roomId: string, userId: string, reason?: string) =>
      call<Json>('POST', `${room(roomId)}/kick`, who.accessToken, { user_id: userId, ...(reason !== undefined ? { reason } : {}) }),
    ban: (who: Account, roomId: string, userId: string, reason?: string) =>
      call<Json>('POST', `${room(roomId)}/ban`, who.accessToken, { user_id: userId, ...(reason !== undefined ? { reason } : {}) }),
    unban: (who: Account, roomId: string, userId: string) => call<Json>('POST', `${room(roomId)}/unban`, who.accessToken, { user_id: userId }),
    send: (who: Account, roomId: string, type: string, content: unknown, txnId = nextTxn()) =>
      call<Json>('PUT', `${room(roomId)}/send/${enc(type)}/${enc(txnId)}`, who.accessToken, content),
    post: (who: Account, roomId: string, type: string, content: unknown) =>
      call<Json>('POST', `${room(roomId)}/send/${enc(type)}`, who.accessToken, content),
    /** Sends and expects 200; answers the event id. */
    async sendOk(who: Account, roomId: string, type: string, content: unknown): Promise<string> {
      const res = await api.send(who, roomId, type, content);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body['event_id'] as string;
    },
    putState: (who: Account, roomId: string, type: string, stateKey: string | undefined, content: unknown) =>
      call<Json>('PUT', `${room(roomId)}/state/${enc(type)}${stateKey !== undefined ? `/${enc(stateKey)}` : ''}`, who.accessToken, content),
    async putStateOk(who: Account, roomId: string, type: string, stateKey: string | undefined, content: unknown): Promise<string> {
      const res = await api.putState(who, roomId, type, stateKey, content);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body['event_id'] as string;
    },
    getState: (who: Account, roomId: string, type: string, stateKey?: string) =>
      call<Json>('GET', `${room(roomId)}/state/${enc(type)}${stateKey !== undefined ? `/${enc(stateKey)}` : ''}`, who.accessToken),
    allState: (who: Account, roomId: string) => call<ServedEvent[]>('GET', `${room(roomId)}/state`, who.accessToken),
    members: (who: Account, roomId: string) => call<{ chunk: ServedEvent[] }>('GET', `${room(roomId)}/members`, who.accessToken),
    redact: (who: Account, roomId: string, eventId: string, body: unknown = {}, txnId = nextTxn()) =>
      call<Json>('PUT', `${room(roomId)}/redact/${enc(eventId)}/${enc(txnId)}`, who.accessToken, body),
    postRedact: (who: Account, roomId: string, eventId: string, body: unknown = {}) =>
      call<Json>('POST', `${room(roomId)}/redact/${enc(eventId)}`, who.accessToken, body),
    /** A state event as GET /state serves it. */
    async stateEvent(who: Account, roomId: string, type: string, stateKey = ''): Promise<ServedEvent | undefined> {
      const res = await api.allState(who, roomId);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.find((e) => e.type === type && e.state_key === stateKey);
    },
    async membershipOf(who: Account, roomId: string, userId: string): Promise<string | undefined> {
      const ev = await api.stateEvent(who, roomId, 'm.room.member', userId);
      return ev?.content['membership'] as string | undefined;
    },
    /** Sets a user's power level (or other power_levels keys) as `who`. */
    async setPowerLevels(who: Account, roomId: string, change: (pl: Json) => Json): Promise<void> {
      const current = await api.getState(who, roomId, 'm.room.power_levels');
      expect(current.status).toBe(200);
      await api.putStateOk(who, roomId, 'm.room.power_levels', '', change(structuredClone(current.body)));
    },
  };
  return api;
}

/** Every event of a room, oldest first, read from the store in-process. */
export async function storedTimeline(srv: TestServer, roomId: string): Promise<PersistedEvent[]> {
  return srv.hs.context.storage.events.getRoomTimeline(roomId, { topological: 0, stream: 0 }, 'f', 100_000);
}

/** The newest stream ordering: grows by one per event stored anywhere on the server. */
export async function streamPosition(srv: TestServer): Promise<number> {
  return srv.hs.context.storage.events.currentStreamOrdering();
}

/** Public join rule room created by `owner` with `others` joined. */
export async function publicRoomWith(api: ReturnType<typeof roomApi>, owner: Account, ...others: Account[]): Promise<string> {
  const roomId = await api.createRoom(owner, { preset: 'public_chat' });
  for (const o of others) {
    const res = await api.join(o, roomId);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
  return roomId;
}
