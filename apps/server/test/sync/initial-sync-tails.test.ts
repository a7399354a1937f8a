/**
 * initialSync serves small limits from per-room tails kept in memory (SyncService
 * roomTailEvents) and reads the store otherwise. Both paths must answer the same: checked
 * against limit=1000 (never a tail) for rooms shorter than, equal to and longer than the
 * limit, after a redaction, across a restart (tails filled from the store) and for a user
 * whose join cuts the history (`joined` visibility: the judge still runs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, type Account, type TestServer } from '../helpers/index.js';
import { createRoom, enc, initialSync, membership, send } from './util.js';

type Ev = { event_id: string; content: Record<string, unknown> };
type Room = { room_id: string; messages: { chunk: Ev[] }; state: Ev[] };

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { await srv.close(); });

/** Each room's message ids and contents at `limit`, by room id. */
async function timelines(who: Account, limit: number): Promise<Map<string, Ev[]>> {
  const res = await initialSync(srv.baseUrl, who, { limit });
  expect(res.status).toBe(200);
  return new Map((res.body.rooms as Room[]).map((r) => [r.room_id, r.messages.chunk.map((e) => ({ event_id: e.event_id, content: e.content }))]));
}

async function expectSameAsStore(who: Account, limit: number): Promise<Map<string, Ev[]>> {
  const small = await timelines(who, limit);
  const all = await timelines(who, 1000);
  expect([...small.keys()].sort()).toEqual([...all.keys()].sort());
  for (const [roomId, evs] of small) expect(evs, roomId).toEqual(all.get(roomId)!.slice(-limit));
  return small;
}

describe('initialSync room tails', () => {
  it('answers as the store does: short, exact and long rooms, redactions, a restart', async () => {
    const alice = await register(srv.baseUrl);
    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) rooms.push(await createRoom(srv.baseUrl, alice));
    // createRoom leaves a few state events; then 0, 3 and 30 messages
    for (let i = 0; i < 3; i++) await send(srv.baseUrl, alice, rooms[1]!, `m${i}`);
    for (let i = 0; i < 30; i++) await send(srv.baseUrl, alice, rooms[2]!, `m${i}`);
    for (const limit of [1, 5, 10, 20]) await expectSameAsStore(alice, limit);

    // a redaction changes a stored event: the tail must not serve the old content
    const target = (await timelines(alice, 5)).get(rooms[2]!)!.at(-2)!;
    const red = await request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(rooms[2]!)}/redact/${enc(target.event_id)}/r1`, { token: alice.accessToken, body: {} });
    expect(red.status).toBe(200);
    const after = await expectSameAsStore(alice, 5);
    expect(after.get(rooms[2]!)!.find((e) => e.event_id === target.event_id)?.content).toEqual({});
    await send(srv.baseUrl, alice, rooms[2]!, 'after the redaction');
    await expectSameAsStore(alice, 5);

    // after a restart the tails start empty and fill from the store
    srv = await srv.restart();
    for (const limit of [5, 10]) await expectSameAsStore(alice, limit);
    for (let i = 0; i < 4; i++) await send(srv.baseUrl, alice, rooms[i % 3]!, `new ${i}`);
    for (const limit of [3, 10, 20]) await expectSameAsStore(alice, limit);
  });

  it('still hides what came before the join when history is `joined`', async () => {
    const owner = await register(srv.baseUrl);
    const late = await register(srv.baseUrl);
    const roomId = await createRoom(srv.baseUrl, owner, {
      preset: 'public_chat',
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
    });
    const before: string[] = [];
    for (let i = 0; i < 5; i++) before.push(await send(srv.baseUrl, owner, roomId, `before ${i}`));
    expect(await membership(srv.baseUrl, late, roomId, 'join')).toBe(200);
    const afterJoin = await send(srv.baseUrl, owner, roomId, 'after');
    for (const limit of [3, 10]) {
      const ids = (await timelines(late, limit)).get(roomId)!.map((e) => e.event_id);
      for (const id of before) expect(ids).not.toContain(id);
      expect(ids).toContain(afterJoin);
    }
  });

  it('judges each room by its own history: several rooms joined late, `joined` and `shared` side by side', async () => {
    const owner = await register(srv.baseUrl);
    const late = await register(srv.baseUrl);
    const rooms: { id: string; visibility: string; before: string[]; after: string }[] = [];
    for (const visibility of ['joined', 'shared', 'joined', 'shared', 'invited']) {
      const id = await createRoom(srv.baseUrl, owner, {
        preset: 'public_chat',
        initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: visibility } }],
      });
      // each room's history and then the join, room after room: a room's earlier message
      // comes after the joins of the rooms before it, so another room's membership events
      // would show it
      const before = [await send(srv.baseUrl, owner, id, `before in ${visibility}`)];
      expect(await membership(srv.baseUrl, late, id, 'join')).toBe(200);
      rooms.push({ id, visibility, before, after: '' });
    }
    for (const room of rooms) room.after = await send(srv.baseUrl, owner, room.id, 'after');
    // the rooms' creation events are among the last ten: every room needs the judge
    for (const limit of [5, 10]) {
      const got = await timelines(late, limit);
      for (const room of rooms) {
        const ids = got.get(room.id)!.map((e) => e.event_id);
        expect(ids, `${room.visibility} at ${limit}`).toContain(room.after);
        for (const id of room.before) {
          if (room.visibility === 'shared') expect(ids, `${room.visibility} at ${limit}`).toContain(id);
          else expect(ids, `${room.visibility} at ${limit}`).not.toContain(id);
        }
      }
    }
  });
});
