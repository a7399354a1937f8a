/**
 * Authorization matrix: users (joined, invited, left, banned, never joined) x rooms (each
 * history visibility) x every read endpoint. Secrets are unique markers placed where a
 * user may not look (messages sent after they left or were banned, history hidden by the
 * room's visibility, rooms they never joined, other users' account data, typing and
 * receipts in private rooms); no answer any user gets may contain a marker they may not
 * see, and answers for rooms they never joined must not even name the room.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, V1, V2, type Account, type TestServer } from '../helpers/index.js';
import { startSecurityServer } from './util.js';

let srv: TestServer;
const enc = encodeURIComponent;
type Role = 'owner' | 'joined' | 'invited' | 'left' | 'banned' | 'outsider';
const ROLES: Role[] = ['owner', 'joined', 'invited', 'left', 'banned', 'outsider'];
const VISIBILITIES = ['shared', 'invited', 'joined', 'world_readable'] as const;

interface RoomSetup { roomId: string; visibility: string; eventIds: string[] }
let users: Record<Role, Account>;
let rooms: RoomSetup[] = [];
/** Per role: markers that role must never receive. */
const forbidden = new Map<Role, Set<string>>();
/** Per role: rooms whose id must not appear in that role's successful answers. */
const unknownRooms = new Map<Role, Set<string>>();
const startTokens = new Map<Role, string>();

const call = <T = Record<string, unknown>>(method: string, path: string, who: Account, body?: unknown) =>
  request<T>(srv.baseUrl, method, path, { token: who.accessToken, ...(body !== undefined ? { body } : {}) });
const ok = async (p: Promise<{ status: number; body: unknown }>): Promise<Record<string, unknown>> => {
  const res = await p;
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as Record<string, unknown>;
};
let n = 0;
const marker = (what: string): string => `SECRET_${what}_${++n}_${process.pid}`;
const hide = (role: Role, m: string): void => { forbidden.get(role)!.add(m); };

async function send(who: Account, roomId: string, body: string): Promise<string> {
  const r = await ok(call('PUT', `${V1}/rooms/${enc(roomId)}/send/m.room.message/t${++n}`, who, { msgtype: 'm.text', body }));
  return r.event_id as string;
}

beforeAll(async () => {
  srv = await startSecurityServer();
  const accounts = await Promise.all(ROLES.map(() => register(srv.baseUrl)));
  users = Object.fromEntries(ROLES.map((r, i) => [r, accounts[i]!])) as Record<Role, Account>;
  for (const r of ROLES) { forbidden.set(r, new Set()); unknownRooms.set(r, new Set()); }
  for (const r of ROLES) {
    const init = await ok(call('GET', `${V1}/initialSync?limit=1`, users[r]));
    startTokens.set(r, init.end as string);
  }
  const { owner, joined, invited, left, banned } = users;

  for (const visibility of VISIBILITIES) {
    const roomId = (await ok(call('POST', `${V1}/createRoom`, owner, { preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: visibility } }] }))).room_id as string;
    const eventIds: string[] = [];
    const early = marker(`early_${visibility}`);
    eventIds.push(await send(owner, roomId, early));
    for (const who of [joined, left, banned]) await ok(call('POST', `${V1}/join/${enc(roomId)}`, who, {}));
    const whileIn = marker(`while_in_${visibility}`);
    eventIds.push(await send(owner, roomId, whileIn));
    await ok(call('POST', `${V1}/rooms/${enc(roomId)}/leave`, left, {}));
    await ok(call('POST', `${V1}/rooms/${enc(roomId)}/ban`, owner, { user_id: banned.userId, reason: 'test' }));
    const afterLeave = marker(`after_leave_${visibility}`);
    eventIds.push(await send(owner, roomId, afterLeave));
    await ok(call('PUT', `${V1}/rooms/${enc(roomId)}/state/m.room.topic`, owner, { topic: marker(`topic_after_leave_${visibility}`) }));
    const topic = `SECRET_topic_after_leave_${visibility}_${n}_${process.pid}`;
    const beforeInvite = marker(`before_invite_${visibility}`);
    eventIds.push(await send(owner, roomId, beforeInvite));
    await ok(call('POST', `${V1}/rooms/${enc(roomId)}/invite`, owner, { user_id: invited.userId }));
    rooms.push({ roomId, visibility, eventIds });

    // Who must not see what (Synapse's visibility rules, world_readable aside).
    if (visibility !== 'world_readable') {
      // world_readable rooms are readable by anyone, former members included.
      for (const r of ['left', 'banned'] as const) { hide(r, afterLeave); hide(r, topic); hide(r, beforeInvite); }
      for (const m of [early, whileIn, afterLeave, topic, beforeInvite]) hide('outsider', m);
      unknownRooms.get('outsider')!.add(roomId);
    }
    if (visibility === 'joined') {
      // Joined-only history: what was sent before a user joined stays hidden from them.
      for (const r of ['left', 'banned'] as const) hide(r, early);
      for (const m of [early, whileIn, afterLeave, beforeInvite]) hide('invited', m);
    }
    if (visibility === 'invited') for (const m of [early, whileIn, afterLeave, beforeInvite]) hide('invited', m);
  }

  // A private room only the owner and `joined` are in: typing, receipts and account data there.
  const privateRoom = (await ok(call('POST', `${V1}/createRoom`, owner, { preset: 'private_chat' }))).room_id as string;
  await ok(call('POST', `${V1}/rooms/${enc(privateRoom)}/invite`, owner, { user_id: joined.userId }));
  await ok(call('POST', `${V1}/join/${enc(privateRoom)}`, joined, {}));
  const secretMsg = marker('private_room');
  const privEvent = await send(owner, privateRoom, secretMsg);
  rooms.push({ roomId: privateRoom, visibility: 'private', eventIds: [privEvent] });
  await call('PUT', `${V1}/rooms/${enc(privateRoom)}/typing/${enc(owner.userId)}`, owner, { typing: true, timeout: 30_000 });
  await call('POST', `${V2}/rooms/${enc(privateRoom)}/receipt/m.read/${enc(privEvent)}`, owner, {});
  const ownerData = marker('owner_account_data');
  const ownerRoomData = marker('owner_room_account_data');
  await call('PUT', `${V2}/user/${enc(owner.userId)}/account_data/org.example.secret`, owner, { v: ownerData });
  await call('PUT', `${V2}/user/${enc(owner.userId)}/rooms/${enc(privateRoom)}/account_data/org.example.secret`, owner, { v: ownerRoomData });
  await call('PUT', `${V2}/user/${enc(owner.userId)}/rooms/${enc(privateRoom)}/tags/u.${marker('tag')}`, owner, { order: 0.5 });
  for (const r of ROLES) {
    if (r !== 'owner') { hide(r, ownerData); hide(r, ownerRoomData); }
    if (r !== 'owner' && r !== 'joined') { hide(r, secretMsg); unknownRooms.get(r)!.add(privateRoom); }
  }
}, 60_000);
afterAll(async () => {
  expect(srv.specViolations()).toEqual([]);
  await srv.close();
});

/** Every read endpoint, as `who` would call it. */
function reads(role: Role): { label: string; path: string }[] {
  const out: { label: string; path: string }[] = [
    { label: 'initialSync', path: `${V1}/initialSync?limit=50` },
    { label: 'initialSync archived', path: `${V1}/initialSync?limit=50&archived=true` },
    { label: 'events from start', path: `${V1}/events?timeout=0&from=${enc(startTokens.get(role)!)}` },
    { label: 'presence list', path: `${V1}/presence/list/${enc(users.owner.userId)}` },
    { label: 'owner tags', path: `${V2}/user/${enc(users.owner.userId)}/rooms/${enc(rooms[rooms.length - 1]!.roomId)}/tags` },
  ];
  for (const { roomId, visibility, eventIds } of rooms) {
    const r = `${V1}/rooms/${enc(roomId)}`;
    out.push(
      { label: `${visibility} state`, path: `${r}/state` },
      { label: `${visibility} members`, path: `${r}/members` },
      { label: `${visibility} topic`, path: `${r}/state/m.room.topic` },
      { label: `${visibility} topic with key`, path: `${r}/state/m.room.topic/` },
      { label: `${visibility} messages back`, path: `${r}/messages?dir=b&limit=100` },
      { label: `${visibility} messages forward`, path: `${r}/messages?dir=f&limit=100&from=s0_0_0_0_0_0` },
      { label: `${visibility} room initialSync`, path: `${r}/initialSync?limit=100` },
      ...eventIds.map((id, i) => ({ label: `${visibility} event ${i}`, path: `${V1}/events/${enc(id)}` })),
    );
  }
  return out;
}

describe('authorization matrix', () => {
  it.each(ROLES)('%s reads nothing it may not see on any read endpoint', async (role) => {
    const who = users[role];
    const leaks: string[] = [];
    for (const { label, path } of reads(role)) {
      const res = await request(srv.baseUrl, 'GET', path, { token: who.accessToken });
      expect(res.status, `${role} ${label}: ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
      const text = JSON.stringify(res.body);
      for (const m of forbidden.get(role)!) if (text.includes(m)) leaks.push(`${label}: ${m}`);
      if (res.status === 200 && !label.includes('event ')) {
        for (const roomId of unknownRooms.get(role)!) {
          // A room the user was never in may not be named in a successful answer (path echoes aside).
          if (!path.includes(enc(roomId)) && text.includes(roomId)) leaks.push(`${label}: names ${roomId}`);
        }
      }
      if (res.status === 200 && path.includes('/rooms/') && !path.includes('/tags')) {
        const roomOfPath = rooms.find((r) => path.includes(enc(r.roomId)));
        if (roomOfPath && unknownRooms.get(role)!.has(roomOfPath.roomId)) leaks.push(`${label}: 200 for a room never joined`);
      }
    }
    expect(leaks).toEqual([]);
  }, 60_000);

  it('members still read everything they may', async () => {
    for (const { roomId, eventIds } of rooms) {
      const res = await call<{ chunk: { event_id: string }[] }>('GET', `${V1}/rooms/${enc(roomId)}/messages?dir=b&limit=100`, users.owner);
      expect(res.status).toBe(200);
      const ids = res.body.chunk.map((e) => e.event_id);
      for (const id of eventIds) expect(ids).toContain(id);
    }
  });

  it('no user can write another user\'s account data, tags, presence or typing', async () => {
    const { owner, outsider } = users;
    const privateRoom = rooms[rooms.length - 1]!.roomId;
    for (const [method, path, body] of [
      ['PUT', `${V2}/user/${enc(owner.userId)}/account_data/org.example.x`, { a: 1 }],
      ['PUT', `${V2}/user/${enc(owner.userId)}/rooms/${enc(privateRoom)}/account_data/org.example.x`, { a: 1 }],
      ['PUT', `${V2}/user/${enc(owner.userId)}/rooms/${enc(privateRoom)}/tags/u.x`, { order: 1 }],
      ['DELETE', `${V2}/user/${enc(owner.userId)}/rooms/${enc(privateRoom)}/tags/u.x`, undefined],
      ['PUT', `${V1}/presence/${enc(owner.userId)}/status`, { presence: 'offline' }],
      ['PUT', `${V1}/rooms/${enc(privateRoom)}/typing/${enc(owner.userId)}`, { typing: true, timeout: 1000 }],
      ['PUT', `${V1}/profile/${enc(owner.userId)}/displayname`, { displayname: 'pwned' }],
      ['PUT', `${V1}/rooms/${enc(privateRoom)}/send/m.room.message/x1`, { body: 'x' }],
      ['PUT', `${V1}/rooms/${enc(privateRoom)}/state/m.room.topic`, { topic: 'x' }],
      ['POST', `${V1}/rooms/${enc(privateRoom)}/join`, {}],
    ] as const) {
      const res = await call(method, path, outsider, body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('a token stops working everywhere after logout', async () => {
    const who = await register(srv.baseUrl);
    await ok(call('POST', `${V1}/logout`, who, {}));
    for (const path of [`${V1}/initialSync`, `${V1}/events?timeout=0`, `${V1}/rooms/${enc(rooms[0]!.roomId)}/state`]) {
      const res = await call('GET', path, who);
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
    }
  });
});
