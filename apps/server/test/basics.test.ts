import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startServer, V1, type TestServer } from './helpers/index.js';

let s: TestServer;
beforeAll(async () => { s = await startServer(); });
afterAll(async () => {
  expect(s.specViolations()).toEqual([]);
  await s.close();
});

describe('versions, health, CORS and unknown routes', () => {
  it('GET /_matrix/client/versions needs no token', async () => {
    const res = await request(s.baseUrl, 'GET', '/_matrix/client/versions');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ versions: ['r0.0.1'] });
  });

  it('GET /health answers 200 OK without auth', async () => {
    const res = await fetch(`${s.baseUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK');
  });

  it('puts CORS headers on successes and errors', async () => {
    for (const path of ['/_matrix/client/versions', `${V1}/logout`, '/nowhere']) {
      const res = await fetch(s.baseUrl + path);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-methods')).toContain('OPTIONS');
      expect(res.headers.get('access-control-allow-headers')).toContain('Authorization');
    }
  });

  it('answers OPTIONS without auth, on any path', async () => {
    for (const path of [`${V1}/logout`, `${V1}/rooms/!x:localhost/send/m.room.message/1`, '/whatever']) {
      const res = await fetch(s.baseUrl + path, { method: 'OPTIONS' });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    }
  });

  it('unknown path: 404 M_UNRECOGNIZED as JSON', async () => {
    const res = await request(s.baseUrl, 'GET', `${V1}/no/such/thing`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('known path, wrong method: 405 M_UNRECOGNIZED', async () => {
    const res = await request(s.baseUrl, 'PUT', '/_matrix/client/versions');
    expect(res.status).toBe(405);
    expect(res.body.errcode).toBe('M_UNRECOGNIZED');
    const del = await request(s.baseUrl, 'DELETE', `${V1}/login`);
    expect(del.status).toBe(405);
  });

  it('never answers with HTML, even for a malformed path', async () => {
    const res = await fetch(`${s.baseUrl}/_matrix/client/api/v1/%E0%A4%A`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await res.text();
    expect(body).not.toMatch(/<html|<pre|at .*\.js:\d+/i);
  });
});
