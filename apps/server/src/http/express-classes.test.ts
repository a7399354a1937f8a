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
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.locals.requestId = 'GET-1';
      (res as unknown as Record<symbol, unknown>)[endCallbacks] = [];
      seen.push(hasFastProperties(req), hasFastProperties(res));
      res.json({});
    });
    const server = createServer({ ...expressClasses(app) }, app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      for (let i = 0; i < 3; i++) expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
      expect(seen).toEqual([true, true, true, true, true, true]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
