import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, type TestServer } from '../helpers/index.js';
import { createRoom, enc, events, follow, initialSync, membership, messages, send } from './util.js';

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { await srv.close(); });

describe('sync smoke', () => {
  it('initialSync, events long-poll, messages, event by id', async () => {
    const alice = await register(srv.baseUrl);
    const bob = await register(srv.baseUrl);
    const roomId = await createRoom(srv.baseUrl, alice, { preset: 'public_chat', name: 'R' });
    const first = await send(srv.baseUrl, alice, roomId, 'hello');
    const is = await initialSync(srv.baseUrl, alice);
    expect(is.status).toBe(200);
    expect(is.body.rooms).toHaveLength(1);
    const room = is.body.rooms[0];
    expect(room.membership).toBe('join');
    expect(room.messages.chunk.at(-1).event_id).toBe(first);
    expect(room.state.some((e: { type: string }) => e.type === 'm.room.name')).toBe(true);

    // the first poll marks alice online: that presence change comes first
    const online = await follow(srv.baseUrl, alice, is.body.end, (all) => all.some((e) => e.type === 'm.presence'));
    expect(online.all.map((e) => e.type)).toEqual(['m.presence']);
    const poll = events(srv.baseUrl, alice, { from: online.end, timeout: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    const second = await send(srv.baseUrl, alice, roomId, 'second');
    const got = await poll;
    expect(got.status).toBe(200);
    expect(got.body.chunk.filter((e) => e.event_id).map((e) => e.event_id)).toEqual([second]);
    expect(got.body.end).not.toBe(got.body.start);

    expect(await membership(srv.baseUrl, bob, roomId, 'join')).toBe(200);
    const back = await messages(srv.baseUrl, bob, roomId, { from: room.messages.end, dir: 'b', limit: 3 });
    expect(back.status).toBe(200);
    expect(back.body.chunk[0]!.event_id).toBe(first);

    const byId = await request(srv.baseUrl, 'GET', `${V1}/events/${enc(first)}`, { token: bob.accessToken });
    expect(byId.status).toBe(200);
    const rules = await request(srv.baseUrl, 'GET', `${V1}/pushrules/`, { token: bob.accessToken });
    expect(rules.status).toBe(200);
    expect(srv.specViolations()).toEqual([]);
  });
});
