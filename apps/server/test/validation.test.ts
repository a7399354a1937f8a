import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerMap } from '../src/http/handler.js';
import { register, request, startServer, V1, type TestServer } from './helpers/index.js';

// Stubs that break the spec on purpose, to prove the test-mode check catches it.
const stubs: HandlerMap = {
  getVersions: async () => ({ status: 200, body: { versions: 'r0.0.1' as unknown as string[] } }),
  getLoginFlows: async () => ({ status: 418 as 200, body: { flows: [] } }),
  getInitialSync: async ({ query }) => ({ status: 200, body: { end: `limit=${String(query.limit)}`, rooms: [], presence: [] } as never }),
};

let s: TestServer;
let off: TestServer;
beforeAll(async () => {
  [s, off] = await Promise.all([startServer({ stubs }), startServer({ stubs, config: { testing: { validate_responses: false } } })]);
});
afterAll(async () => { await Promise.all([s.close(), off.close()]); });

describe('response validation (test mode)', () => {
  it('turns a body that breaks the schema into a loud 500 and an error log', async () => {
    const res = await request(s.baseUrl, 'GET', '/_matrix/client/versions');
    expect(res.status).toBe(500);
    expect(res.body.errcode).toBe('M_UNKNOWN');
    expect(String(res.body.error)).toContain('/versions');
    const logged = s.specViolations();
    expect(logged.some((l) => l.operationId === 'getVersions' && l.level === 50)).toBe(true);
  });

  it('flags a status the spec does not describe', async () => {
    const res = await request(s.baseUrl, 'GET', `${V1}/login`);
    expect(res.status).toBe(500);
    expect(String(res.body.error)).toContain('418');
  });

  it('is off unless configured', async () => {
    const res = await request(off.baseUrl, 'GET', '/_matrix/client/versions');
    expect(res.status).toBe(200);
  });
});

describe('query parameters from the contract', () => {
  it('converts integers and rejects bad values with M_INVALID_PARAM', async () => {
    const a = await register(off.baseUrl);
    const ok = await request(off.baseUrl, 'GET', `${V1}/initialSync?limit=7`, { token: a.accessToken });
    expect(ok.status).toBe(200);
    expect(ok.body.end).toBe('limit=7');
    const bad = await request(off.baseUrl, 'GET', `${V1}/initialSync?limit=abc`, { token: a.accessToken });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
    const badBool = await request(off.baseUrl, 'GET', `${V1}/initialSync?archived=maybe`, { token: a.accessToken });
    expect(badBool.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('checks the token before the parameters', async () => {
    const res = await request(off.baseUrl, 'GET', `${V1}/initialSync?limit=abc`);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});
