import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, type TestServer } from './helpers/index.js';

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { await srv.close(); });

describe('rooms end to end', () => {
  it('create, send, read state, join, idempotent PUT, redact', async () => {
    const alice = await register(srv.baseUrl, 'alice');
    const bob = await register(srv.baseUrl, 'bob');
    const created = await request<{ room_id: string; room_alias?: string }>(srv.baseUrl, 'POST', `${V1}/createRoom`,
      { token: alice.accessToken, body: { name: 'Pub', topic: 'beer', room_alias_name: 'pub', preset: 'public_chat' } });
    expect(created.status).toBe(200);
    expect(created.body.room_alias).toBe('#pub:localhost');
    const roomId = created.body.room_id;
    const name = await request(srv.baseUrl, 'GET', `${V1}/rooms/${encodeURIComponent(roomId)}/state/m.room.name`, { token: alice.accessToken });
    expect(name.body).toEqual({ name: 'Pub' });
    const sent = await request<{ event_id: string }>(srv.baseUrl, 'PUT', `${V1}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: 'hi' } });
    const again = await request<{ event_id: string }>(srv.baseUrl, 'PUT', `${V1}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: 'hi' } });
    expect(again.body.event_id).toBe(sent.body.event_id);
    const bobSend = await request(srv.baseUrl, 'POST', `${V1}/rooms/${encodeURIComponent(roomId)}/send/m.room.message`,
      { token: bob.accessToken, body: { msgtype: 'm.text', body: 'not joined' } });
    expect(bobSend.status).toBe(403);
    const join = await request(srv.baseUrl, 'POST', `${V1}/join/${encodeURIComponent('#pub:localhost')}`, { token: bob.accessToken, body: {} });
    expect(join.body).toEqual({ room_id: roomId });
    const members = await request<{ chunk: { state_key: string }[] }>(srv.baseUrl, 'GET', `${V1}/rooms/${encodeURIComponent(roomId)}/members`, { token: bob.accessToken });
    expect(members.body.chunk.map((m) => m.state_key).sort()).toEqual([alice.userId, bob.userId].sort());
    const badMsg = await request<{ errcode: string }>(srv.baseUrl, 'POST', `${V1}/rooms/${encodeURIComponent(roomId)}/send/m.room.message`,
      { token: bob.accessToken, body: { msgtype: 'm.text', body: 5 } });
    expect(badMsg.status).toBe(400);
    expect(badMsg.body.errcode).toBe('M_BAD_JSON');
    const redact = await request(srv.baseUrl, 'POST', `${V1}/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(sent.body.event_id)}`,
      { token: bob.accessToken, body: {} });
    expect(redact.status).toBe(403);
    const own = await request(srv.baseUrl, 'PUT', `${V1}/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(sent.body.event_id)}/r1`,
      { token: alice.accessToken, body: { reason: 'oops' } });
    expect(own.status).toBe(200);
    const state = await request<unknown[]>(srv.baseUrl, 'GET', `${V1}/rooms/${encodeURIComponent(roomId)}/state`, { token: alice.accessToken });
    expect(state.status).toBe(200);
    expect(srv.specViolations()).toEqual([]);
  });
});

describe('optional bodies', () => {
  it('POST /join and /leave with no body at all, as clients of the era send them; /invite still needs one', async () => {
    const alice = await register(srv.baseUrl);
    const bob = await register(srv.baseUrl);
    const { body } = await request<{ room_id: string }>(srv.baseUrl, 'POST', `${V1}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } });
    const room = encodeURIComponent(body.room_id);
    const bare = (path: string, token: string) => fetch(`${srv.baseUrl}${V1}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    const join = await bare(`/rooms/${room}/join`, bob.accessToken);
    expect(join.status).toBe(200);
    expect(await join.json()).toEqual({ room_id: body.room_id });
    expect((await bare(`/rooms/${room}/leave`, bob.accessToken)).status).toBe(200);
    const invite = await bare(`/rooms/${room}/invite`, alice.accessToken);
    expect(invite.status).toBe(400);
    expect(((await invite.json()) as { errcode: string }).errcode).toBe('M_NOT_JSON');
    expect(srv.specViolations()).toEqual([]);
  });
});
