import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeanConnection } from './lean-client.js';

// A server that answers in many small writes, so that the client sees the head and a large
// body arrive in pieces.
let server: Server;
let url: string;
const big = JSON.stringify({ rooms: Array.from({ length: 20_000 }, (_, i) => ({ room_id: `!r${i}:x`, body: 'é'.repeat(i % 7) })) });

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = Buffer.from(req.url === '/big' ? big : JSON.stringify({ path: req.url }));
      res.writeHead(req.url === '/teapot' ? 418 : 200, { 'content-type': 'application/json', 'content-length': body.length });
      for (let i = 0; i < body.length; i += 1000) res.write(body.subarray(i, i + 1000));
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('LeanConnection', () => {
  it('reads an answer of megabytes that arrives in many pieces, then the next answer on the same connection', async () => {
    const c = LeanConnection.forUrl(url);
    try {
      const r = await c.request('GET', '/big', undefined, undefined);
      expect(r.status).toBe(200);
      expect(r.text).toBe(big);
      for (const path of ['/a', '/teapot', '/b']) {
        const next = await c.request('GET', path, undefined, 'tok');
        expect(next.status).toBe(path === '/teapot' ? 418 : 200);
        expect(JSON.parse(next.text)).toEqual({ path });
      }
    } finally {
      c.close();
    }
  });

  it('counts and drops bodies when asked, and reads the answers after them', async () => {
    const c = LeanConnection.forUrl(url);
    try {
      const r = await c.request('GET', '/big', undefined, undefined, { discardBody: true });
      expect(r).toEqual({ status: 200, text: '', bytes: Buffer.byteLength(big) });
      const small = await c.request('GET', '/a', undefined, undefined, { discardBody: true });
      expect(small).toEqual({ status: 200, text: '', bytes: Buffer.byteLength(JSON.stringify({ path: '/a' })) });
      const kept = await c.request('GET', '/big', undefined, undefined);
      expect(kept.text).toBe(big);
      expect(kept.bytes).toBe(Buffer.byteLength(big));
      const next = await c.request('GET', '/b', undefined, undefined);
      expect(JSON.parse(next.text)).toEqual({ path: '/b' });
    } finally {
      c.close();
    }
  });

  it('sends a body with its length', async () => {
    const c = LeanConnection.forUrl(url);
    try {
      const r = await c.request('PUT', '/put', JSON.stringify({ body: 'ü' }), 'tok');
      expect(r.status).toBe(200);
    } finally {
      c.close();
    }
  });
});
