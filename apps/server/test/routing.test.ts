import { operationTable } from '@axon/contract';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_YET_IMPLEMENTED } from '../src/http/not-yet-implemented.js';
import { OPERATIONAL_ROUTES } from '../src/http/operational-routes.js';
import { expressPath } from '../src/http/router.js';
import { routeHandlers } from '../src/http/routes/index.js';
import { request, startServer, type TestServer } from './helpers/index.js';

let s: TestServer;
beforeAll(async () => { s = await startServer(); });
afterAll(async () => { await s.close(); });

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[]; routes?: readonly { method: string; template: string }[] };
}

/** Every (method, path) the app serves, read from its Express router and the Matrix route table. */
function mountedRoutes(app: Express): Set<string> {
  const out = new Set<string>();
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.add(`${method} ${layer.route.path}`);
      } else if (layer.handle?.routes) {
        // the Matrix routes (http/route-table.ts, not Express routes)
        for (const r of layer.handle.routes) out.add(`${r.method} ${expressPath(r.template)}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

const fill = (template: string) => template.replace(/\{(\w+)\}/g, (_m, name: string) => `${name}_x`);

describe('the server serves exactly what spec/ describes', () => {
  const pending = new Set<string>(NOT_YET_IMPLEMENTED);
  const described = operationTable.filter((op) => !pending.has(op.operationId));

  it('mounts no Matrix route that spec/ lacks, and every described one', () => {
    const app = s.hs.server.listeners('request')[0] as unknown as Express;
    const mounted = mountedRoutes(app);
    const expected = new Set([
      ...described.map((op) => `${op.method} ${expressPath(op.path)}`),
      ...OPERATIONAL_ROUTES.map((r) => `${r.method} ${r.path}`),
    ]);
    expect([...mounted].filter((r) => !expected.has(r)).sort()).toEqual([]);
    expect([...expected].filter((r) => !mounted.has(r)).sort()).toEqual([]);
  });

  it('answers every described operation (never 404/405 M_UNRECOGNIZED)', async () => {
    for (const op of described) {
      const res = await request(s.baseUrl, op.method.toUpperCase(), fill(op.path), op.hasBody ? { body: {} } : {});
      const unrecognized = res.body.errcode === 'M_UNRECOGNIZED';
      expect({ op: op.operationId, unrecognized }).toEqual({ op: op.operationId, unrecognized: false });
    }
  });

  it('has a handler for exactly the operations not listed as pending', () => {
    const handled = Object.keys(routeHandlers).sort();
    expect(handled).toEqual(described.map((op) => op.operationId).sort());
    const known = new Set(operationTable.map((op) => op.operationId));
    expect(NOT_YET_IMPLEMENTED.filter((id) => !known.has(id))).toEqual([]);
  });

  it('answers pending operations with 404 M_UNRECOGNIZED (and says which remain)', async () => {
    for (const op of operationTable.filter((o) => pending.has(o.operationId))) {
      const res = await request(s.baseUrl, op.method.toUpperCase(), fill(op.path), op.hasBody ? { body: {} } : {});
      // 405 when another method on the same path is served.
      expect([404, 405]).toContain(res.status);
      expect(res.body.errcode).toBe('M_UNRECOGNIZED');
    }
    console.info(`not yet implemented (${NOT_YET_IMPLEMENTED.length}): ${NOT_YET_IMPLEMENTED.join(', ')}`);
  });
});
