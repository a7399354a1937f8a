/**
 * A seeded, reproducible random sequence: several users send, join, leave, invite, get
 * banned and unbanned and change state, a few operations at a time. Then each user's
 * /events stream (following `end`), /initialSync?archived=true and /messages pagination are
 * checked against a model replayed from the room creator's stream, who sees everything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, type Account, type TestServer } from '../helpers/index.js';
import { createRoom, enc, events, initialSync, messages } from './util.js';

type Ev = { event_id: string; type: string; room_id: string; state_key?: string; content: Record<string, unknown> };

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { await srv.close(); });

async function readStream(who: Account, from: string): Promise<Ev[]> {
  const out: Ev[] = [];
  let end = from;
  for (let i = 0; i < 500; i++) {
    const res = await events(srv.baseUrl, who, { from: end, timeout: 0 });
    expect(res.status).toBe(200);
    if (res.body.chunk.length > 0) expect(res.body.end).not.toBe(res.body.start);
    out.push(...(res.body.chunk.filter((e) => typeof e.event_id === 'string') as Ev[]));
    if (res.body.chunk.length === 0) return out;
    end = res.body.end;
  }
  throw new Error('stream never ran dry');
}

describe.each([1, 2, 3])('random sequence, seed %i', (seed) => {
  it('streams, initialSync and pagination match the model', async () => {
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    srv.hs.context.sync.configure({ maxEventsPerPoll: 5 });
    const users: Account[] = [];
    for (let i = 0; i < 5; i++) users.push(await register(srv.baseUrl));
    const owner = users[0]!;
    await new Promise((r) => setTimeout(r, 20));
    const starts = new Map<string, string>();
    for (const u of users) {
      // poll once so presence is out of the way, then take "now"
      await events(srv.baseUrl, u, { timeout: 0 });
      await new Promise((r) => setImmediate(r));
      starts.set(u.userId, (await events(srv.baseUrl, u, { timeout: 0 })).body.end);
    }
    const rooms = [
      await createRoom(srv.baseUrl, owner, { preset: 'public_chat' }),
      await createRoom(srv.baseUrl, owner, { preset: 'private_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }] }),
    ];
    // what the test believes, to choose plausible operations (the server may still refuse some)
    const member = new Map<string, string>();
    const key = (r: string, u: string) => `${r}|${u}`;
    for (const r of rooms) member.set(key(r, owner.userId), 'join');
    let txn = 0;
    const op = async (): Promise<void> => {
      const roomId = pick(rooms);
      const u = pick(users);
      const m = member.get(key(roomId, u.userId)) ?? 'leave';
      const others = users.filter((x) => x !== owner);
      const target = pick(others);
      const tm = member.get(key(roomId, target.userId)) ?? 'leave';
      const r = rnd();
      const post = (path: string, body: unknown, who: Account) => request(srv.baseUrl, 'POST', `${V1}/rooms/${enc(roomId)}/${path}`, { token: who.accessToken, body });
      if (m === 'join' && r < 0.4) {
        await request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(roomId)}/send/m.room.message/r${seed}_${++txn}`, { token: u.accessToken, body: { msgtype: 'm.text', body: `m${txn}` } });
      } else if (r < 0.5) {
        await request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(roomId)}/state/m.room.topic`, { token: owner.accessToken, body: { topic: `t${++txn}` } });
      } else if (r < 0.65 && u !== owner && m !== 'join' && m !== 'ban') {
        if ((await post('join', {}, u)).status === 200) member.set(key(roomId, u.userId), 'join');
      } else if (r < 0.75 && u !== owner && (m === 'join' || m === 'invite')) {
        if ((await post('leave', {}, u)).status === 200) member.set(key(roomId, u.userId), 'leave');
      } else if (r < 0.85 && tm === 'leave') {
        if ((await post('invite', { user_id: target.userId }, owner)).status === 200) member.set(key(roomId, target.userId), 'invite');
      } else if (r < 0.93 && tm !== 'ban') {
        if ((await post('ban', { user_id: target.userId }, owner)).status === 200) member.set(key(roomId, target.userId), 'ban');
      } else if (tm === 'ban') {
        if ((await post('unban', { user_id: target.userId }, owner)).status === 200) member.set(key(roomId, target.userId), 'leave');
      }
    };
    for (let step = 0; step < 40; step++) {
      const n = 1 + Math.floor(rnd() * 3);
      await Promise.all(Array.from({ length: n }, () => op()));
    }
    await new Promise((r) => setTimeout(r, 20));

    // the owner is joined to every room throughout: their stream is the global order
    const all = await readStream(owner, starts.get(owner.userId)!);
    expect(new Set(all.map((e) => e.event_id)).size).toBe(all.length);
    const timeline = new Map<string, Ev[]>(rooms.map((r) => [r, all.filter((e) => e.room_id === r)]));

    for (const u of users.slice(1)) {
      // model: joined just after the event, the event is their own membership change, or they sent it
      const mem = new Map<string, string>();
      const expected: string[] = [];
      const leaveAt = new Map<string, number>();
      for (const [i, e] of all.entries()) {
        if (e.type === 'm.room.member' && e.state_key === u.userId) {
          mem.set(e.room_id, e.content.membership as string);
          expected.push(e.event_id);
          if (e.content.membership === 'leave' || e.content.membership === 'ban') leaveAt.set(e.room_id, i);
        } else if (mem.get(e.room_id) === 'join' || (e as { sender?: string }).sender === u.userId) expected.push(e.event_id);
      }
      const stream = await readStream(u, starts.get(u.userId)!);
      expect(stream.map((e) => e.event_id), `stream of ${u.userId}`).toEqual(expected);

      const is = await initialSync(srv.baseUrl, u, { archived: 'true', limit: 1000 });
      expect(is.status).toBe(200);
      const shown = new Map<string, Record<string, any>>(is.body.rooms.map((r: Record<string, any>) => [r.room_id, r]));
      for (const roomId of rooms) {
        const m = mem.get(roomId);
        const entry = shown.get(roomId);
        if (m === undefined) { expect(entry).toBeUndefined(); continue; }
        expect(entry?.membership, `${u.userId} in ${roomId}`).toBe(m);
        if (m === 'invite') { expect(entry!.invite.state_key).toBe(u.userId); continue; }
        const tl = timeline.get(roomId)!;
        const cut = m === 'join' ? tl : tl.slice(0, tl.findIndex((e) => e.event_id === all[leaveAt.get(roomId)!]!.event_id) + 1);
        // visible: everything for a member of the shared room; otherwise a subsequence of the
        // timeline up to the cut, each event from while they were joined or their own membership
        const seenWhileIn = new Set<string>();
        let mm: string | undefined;
        for (const e of cut) {
          if (e.type === 'm.room.member' && e.state_key === u.userId) { mm = e.content.membership as string; seenWhileIn.add(e.event_id); }
          else if (mm === 'join') seenWhileIn.add(e.event_id);
        }
        const chunkIds: string[] = entry!.messages.chunk.map((e: Ev) => e.event_id);
        if (m === 'join' && roomId === rooms[0]) expect(chunkIds, `messages of ${u.userId}`).toEqual(cut.map((e) => e.event_id));
        else for (const id of chunkIds) expect(seenWhileIn.has(id), `${id} shown to ${u.userId}`).toBe(true);
        const state = new Map<string, string>();
        for (const e of cut) if (e.state_key !== undefined) state.set(`${e.type}|${e.state_key}`, e.event_id);
        const got = new Map<string, string>(entry!.state.map((e: Ev) => [`${e.type}|${e.state_key}`, e.event_id]));
        expect(got).toEqual(state);

        // paginate back from the end in pages of 3: no gaps, no duplicates, nothing after a leave
        const everJoined = cut.some((e) => e.type === 'm.room.member' && e.state_key === u.userId && e.content.membership === 'join');
        if (m !== 'join' && !everJoined) {
          expect((await messages(srv.baseUrl, u, roomId, { dir: 'b' })).status).toBe(403);
          continue;
        }
        const seen: string[] = [];
        let from = entry!.messages.end as string;
        for (let i = 0; i < 200; i++) {
          const page = await messages(srv.baseUrl, u, roomId, { from, dir: 'b', limit: 3 });
          expect(page.status).toBe(200);
          seen.push(...page.body.chunk.map((e) => e.event_id as string));
          if (page.body.chunk.length === 0 && page.body.end === from) break;
          from = page.body.end;
        }
        expect(new Set(seen).size).toBe(seen.length);
        const cutIds = cut.map((e) => e.event_id);
        // newest first, a subsequence of the timeline up to the cut
        let j = cutIds.length - 1;
        for (const id of seen) {
          while (j >= 0 && cutIds[j] !== id) j--;
          expect(j, `${id} out of order or past the leave`).toBeGreaterThanOrEqual(0);
          j--;
        }
        if (m === 'join' && roomId === rooms[0]) expect(seen).toEqual([...cutIds].reverse()); // shared history: all of it
        else for (const id of seen) expect(seenWhileIn.has(id) || m === 'join', `${id} paged to ${u.userId}`).toBe(true);
      }
    }
    srv.hs.context.sync.configure({ maxEventsPerPoll: 100 });
    expect(srv.specViolations()).toEqual([]);
  }, 120_000);
});
