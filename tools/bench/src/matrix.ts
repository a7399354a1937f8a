import type http from 'node:http';
import { ok, requestJson } from './http.js';

const V1 = '/_matrix/client/api/v1';

export interface User {
  userId: string;
  token: string;
}

let txnCounter = 0;
export const txnId = (): string => `b${process.pid}.${++txnCounter}`;

/** The bench talks to Axon the way a v1 client does. */
export class MatrixApi {
  constructor(readonly baseUrl: string, readonly agent: http.Agent) {}

  async register(localpart: string): Promise<User> {
    const body = await ok(requestJson<{ user_id: string; access_token: string }>(this.agent, this.baseUrl, 'POST', `${V1}/register`,
      { type: 'm.login.password', user: localpart, password: 'bench-password' }), `register ${localpart}`);
    return { userId: body.user_id, token: body.access_token };
  }

  async createRoom(user: User, extra: Record<string, unknown> = {}): Promise<string> {
    const body = await ok(requestJson<{ room_id: string }>(this.agent, this.baseUrl, 'POST', `${V1}/createRoom`,
      { preset: 'public_chat', ...extra }, user.token), 'createRoom');
    return body.room_id;
  }

  async join(user: User, roomId: string): Promise<void> {
    await ok(requestJson(this.agent, this.baseUrl, 'POST', `${V1}/rooms/${encodeURIComponent(roomId)}/join`, {}, user.token), 'join');
  }

  async send(user: User, roomId: string, body: string): Promise<string> {
    const res = await ok(requestJson<{ event_id: string }>(this.agent, this.baseUrl, 'PUT',
      `${V1}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txnId()}`, { msgtype: 'm.text', body }, user.token), 'send');
    return res.event_id;
  }

  async events(user: User, from: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<{ start: string; end: string; chunk: { type: string; event_id?: string; content?: Record<string, unknown> }[] }> {
    const q = new URLSearchParams({ timeout: String(timeoutMs), ...(from ? { from } : {}) });
    return ok(requestJson(this.agent, this.baseUrl, 'GET', `${V1}/events?${q}`, undefined, user.token, signal), 'events');
  }

  async initialSync(user: User, limit: number): Promise<{ end: string; rooms: unknown[] }> {
    return ok(requestJson(this.agent, this.baseUrl, 'GET', `${V1}/initialSync?limit=${limit}`, undefined, user.token), 'initialSync');
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
}

let userCounter = 0;
export async function makeUsers(api: MatrixApi, n: number, prefix: string): Promise<User[]> {
  const names = Array.from({ length: n }, () => `${prefix}${process.pid}x${++userCounter}`);
  const users: User[] = [];
  // registration hashes a password with scrypt: a few in parallel use both cores
  await pool(names, 4, async (name, i) => { users[i] = await api.register(name); });
  return users;
}

/** `rooms` rooms owned by `user`, each holding `messages` messages, sent interleaved. */
export async function seedRooms(api: MatrixApi, user: User, rooms: number, messages: number): Promise<string[]> {
  const roomIds: string[] = [];
  await pool(Array.from({ length: rooms }, (_, i) => i), 8, async (i) => { roomIds[i] = await api.createRoom(user); });
  const sends = Array.from({ length: rooms * messages }, (_, i) => i);
  await pool(sends, 16, async (i) => { await api.send(user, roomIds[i % rooms]!, `message ${i}`); });
  return roomIds;
}
