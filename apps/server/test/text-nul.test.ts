/**
 * U+0000 in strings the server stores as columns (display names, state keys, ids in paths):
 * SQLite keeps it like any character, PostgreSQL's text cannot hold it, and the PostgreSQL
 * store escapes it (storage/postgres/pg-db.ts). Both backends answer these alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, type TestServer } from './helpers/index.js';

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { await srv.close(); });
const enc = encodeURIComponent;

describe('NUL and U+FFFF in stored text', () => {
  it('round-trips a display name and a state key with NUL and U+FFFF', async () => {
    const a = await register(srv.baseUrl);
    const name = 'a\u0000b\uffff0\uffff\u0000';
    expect((await request(srv.baseUrl, 'PUT', `${V1}/profile/${enc(a.userId)}/displayname`, { token: a.accessToken, body: { displayname: name } })).status).toBe(200);
    const got = await request<{ displayname: string }>(srv.baseUrl, 'GET', `${V1}/profile/${enc(a.userId)}/displayname`, { token: a.accessToken });
    expect(got.body.displayname).toBe(name);

    const room = (await request<{ room_id: string }>(srv.baseUrl, 'POST', `${V1}/createRoom`, { token: a.accessToken, body: {} })).body.room_id;
    const key = 'k\u0000ey';
    expect((await request(srv.baseUrl, 'PUT', `${V1}/rooms/${enc(room)}/state/org.example.nul/${enc(key)}`, { token: a.accessToken, body: { v: 1 } })).status).toBe(200);
    const state = await request<{ v: number }>(srv.baseUrl, 'GET', `${V1}/rooms/${enc(room)}/state/org.example.nul/${enc(key)}`, { token: a.accessToken });
    expect(state.status).toBe(200);
    expect(state.body).toEqual({ v: 1 });
    const other = await request(srv.baseUrl, 'GET', `${V1}/rooms/${enc(room)}/state/org.example.nul/${enc('k')}`, { token: a.accessToken });
    expect(other.status).toBe(404);
  });

  it('answers an id with a NUL in the path like any unknown id', async () => {
    const a = await register(srv.baseUrl);
    const res = await request<{ errcode: string }>(srv.baseUrl, 'GET', `${V1}/rooms/${enc('!a\u0000b:localhost')}/state`, { token: a.accessToken });
    expect(res.status).toBeLessThan(500);
    expect(res.status).toBeGreaterThanOrEqual(400);
  });
});
