import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { expressClasses } from './express-classes.js';

describe('expressClasses', () => {
  it('node:http builds requests and responses that already have the app prototypes, and Express still works', async () => {
    const app = express();
    app.get('/x', (req, res) => { res.status(201).json({ path: req.path, ip: typeof req.ip }); });
    const seen: boolean[] = [];
    const server = createServer({ ...expressClasses(app) }, (req: IncomingMessage, res: ServerResponse) => {
      seen.push(Object.getPrototypeOf(req) === app.request, Object.getPrototypeOf(res) === app.response);
      app(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/x?y=1`);
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ path: '/x', ip: 'string' });
      expect(seen).toEqual([true, true]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps their properties fast: not turned into hash tables by what node:http, Express and Axon add', async () => {
    setFlagsFromString('--allow-natives-syntax');
    const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
    const app = express();
    const endCallbacks = Symbol('test.endCallbacks');
    const seen: boolean[] = [];
    app.use((req, res) => {
      // as Axon's middleware does: headers, locals, a symbol-keyed property
      res.setHeader('Content-Type', 'application/json');
      res.locals.requestId = 'GET-1';
      res.locals.operationId = 'getEvents';
      res.locals.query = { from: 's1' };
      res.locals.handlerStarted = true;
      (res as unknown as Record<symbol, unknown>)[endCallbacks] = [];
      seen.push(hasFastProperties(req), hasFastProperties(res), hasFastProperties(res.locals));
      res.json({});
    });
    const server = createServer({ ...expressClasses(app) }, app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      for (let i = 0; i < 3; i++) expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
      expect(seen).toEqual(Array.from({ length: 9 }, () => true));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sets the standing headers as the head is written, on every kind of answer, and leaves a header the response set', async () => {
    const app = express();
    const before: (string | undefined)[] = [];
    app.get('/json', (_req, res) => { before.push(res.getHeader('X-Standing') as string | undefined); res.json({}); });
    app.get('/own', (_req, res) => { res.setHeader('X-Standing', 'own'); res.end('x'); });
    app.get('/head', (_req, res) => { res.writeHead(204, { 'X-Other': '1' }).end(); });
    app.get('/stream', (_req, res) => { res.write('a'); res.end('b'); });
    const server = createServer({ ...expressClasses(app, [['X-Standing', 'yes'], ['X-Second', '2']]) }, app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const get = (path: string): Promise<Response> => fetch(`http://127.0.0.1:${port}${path}`);
      for (const path of ['/json', '/head', '/stream', '/missing']) {
        const res = await get(path);
        expect([path, res.headers.get('x-standing'), res.headers.get('x-second')]).toEqual([path, 'yes', '2']);
      }
      expect((await get('/head')).headers.get('x-other')).toBe('1');
      expect((await get('/own')).headers.get('x-standing')).toBe('own');
      // not there while the handler runs (a held long-poll would keep them)
      expect(before).toEqual([undefined]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
