import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
});
