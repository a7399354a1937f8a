import { request, V1, type Account } from '../helpers/index.js';

export interface Chunked { start: string; end: string; chunk: Array<Record<string, unknown>> }

export const enc = encodeURIComponent;

export async function createRoom(base: string, who: Account, body: Record<string, unknown> = {}): Promise<string> {
  const res = await request<{ room_id: string }>(base, 'POST', `${V1}/createRoom`, { token: who.accessToken, body });
  if (res.status !== 200) throw new Error(`createRoom: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.room_id;
}

let txn = 0;
export async function send(base: string, who: Account, roomId: string, body: string): Promise<string> {
  const res = await request<{ event_id: string }>(base, 'PUT', `${V1}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`,
    { token: who.accessToken, body: { msgtype: 'm.text', body } });
  if (res.status !== 200) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.event_id;
}

export async function membership(base: string, who: Account, roomId: string, action: 'join' | 'leave' | 'invite' | 'ban' | 'kick', target?: string): Promise<number> {
  const path = action === 'join' ? `${V1}/rooms/${enc(roomId)}/join` : `${V1}/rooms/${enc(roomId)}/${action}`;
  const res = await request(base, 'POST', path, { token: who.accessToken, body: target ? { user_id: target } : {} });
  return res.status;
}

export async function events(base: string, who: Account, params: Record<string, string | number> = {}): Promise<{ status: number; body: Chunked & { errcode?: string } }> {
  const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return request<Chunked & { errcode?: string }>(base, 'GET', `${V1}/events${qs ? `?${qs}` : ''}`, { token: who.accessToken });
}

export async function initialSync(base: string, who: Account, params: Record<string, string | number> = {}): Promise<{ status: number; body: Record<string, any> }> {
  const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return request<Record<string, any>>(base, 'GET', `${V1}/initialSync${qs ? `?${qs}` : ''}`, { token: who.accessToken });
}

export async function messages(base: string, who: Account, roomId: string, params: Record<string, string | number> = {}): Promise<{ status: number; body: Chunked & { errcode?: string } }> {
  const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return request<Chunked & { errcode?: string }>(base, 'GET', `${V1}/rooms/${enc(roomId)}/messages${qs ? `?${qs}` : ''}`, { token: who.accessToken });
}

/** Follows `end` from `from`, gathering chunks until `done(all)` holds or `ms` passes. */
export async function follow(base: string, who: Account, from: string, done: (all: Array<Record<string, unknown>>) => boolean, ms = 5000): Promise<{ all: Array<Record<string, unknown>>; end: string }> {
  const all: Array<Record<string, unknown>> = [];
  const deadline = Date.now() + ms;
  let end = from;
  while (!done(all) && Date.now() < deadline) {
    const res = await events(base, who, { from: end, timeout: Math.max(1, Math.min(1000, deadline - Date.now())) });
    if (res.status !== 200) throw new Error(`events: ${res.status} ${JSON.stringify(res.body)}`);
    all.push(...res.body.chunk);
    end = res.body.end;
  }
  return { all, end };
}
