/**
 * Every operation the router serves, driven with malformed input: bad tokens, broken and
 * wrongly typed bodies, deep nesting, invalid UTF-8, hostile path segments and query
 * strings. The list of operations comes from the operation table, so operations that land
 * later are covered without an edit here.
 *
 * The rules: never a 5xx, never a hang, every error is a Matrix error, and a request that
 * is refused (or is a read) leaves the database exactly as it was.
 */
import type { OperationInfo } from '@axon/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, V1, type Account, type TestServer } from '../helpers/index.js';
import {
  bodySchema, consumesJson, DbWatch, expectClientError, expectMatrixError, expectNoServerError, fillPath, HOSTILE_SEGMENTS,
  nested, needsToken, pathParams, queryParams, rawRequest, sampleBody, served, startSecurityServer, validPathValues,
  type Json, type PathValues, type RawRequest, type RawResponse,
} from './util.js';

/**
 * Statuses the server rightly answers but spec/ cannot list yet: the seed (old_sync.yaml)
 * is never edited, and Synapse answers 400 for a negative initialSync limit. Test mode
 * turns them into a 500 naming the gap; these are let through, and only these.
 */
const SEED_SPEC_GAPS: readonly { operationId: string; status: number }[] = [
  { operationId: 'getInitialSync', status: 400 },
];
const isSeedGap = (res: RawResponse): boolean => res.status === 500
  && SEED_SPEC_GAPS.some((g) => res.text.includes(`status ${g.status} is not described for ${g.operationId}"`));

let srv: TestServer;
let watch: DbWatch;
let deadToken: string;
let other: Account;

/** A fresh user with a room and a message per operation, so one operation's effects never reach another's test. */
interface OpContext { user: Account; roomId: string; eventId: string; values: PathValues; sample: () => Json }
async function contextFor(): Promise<OpContext> {
  const user = await register(srv.baseUrl);
  const created = await request<{ room_id: string }>(srv.baseUrl, 'POST', `${V1}/createRoom`, { token: user.accessToken, body: { preset: 'public_chat' } });
  expect(created.status).toBe(200);
  const roomId = created.body.room_id;
  const sent = await request<{ event_id: string }>(srv.baseUrl, 'PUT', `${V1}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/ctx1`,
    { token: user.accessToken, body: { msgtype: 'm.text', body: 'target' } });
  expect(sent.status).toBe(200);
  const eventId = sent.body.event_id;
  const values = validPathValues({ userId: user.userId, roomId, eventId, serverName: srv.config.server_name });
  return { user, roomId, eventId, values, sample: () => sampleBody('', { userId: user.userId, otherUserId: other.userId, eventId }) };
}

beforeAll(async () => {
  srv = await startSecurityServer();
  watch = await DbWatch.open(srv);
  other = await register(srv.baseUrl);
  const gone = await register(srv.baseUrl);
  expect((await request(srv.baseUrl, 'POST', `${V1}/logout`, { token: gone.accessToken })).status).toBe(200);
  deadToken = gone.accessToken;
}, 30_000);
afterAll(async () => {
  await watch?.close();
  if (process.env.AXON_SECURITY_DUMP) (await import('node:fs')).writeFileSync(process.env.AXON_SECURITY_DUMP, srv.logs.filter((l) => l.level >= 50).map((l) => JSON.stringify(l)).join('\n'));
  expect(srv.specViolations().filter((l) => !SEED_SPEC_GAPS.some((g) => l.operationId === g.operationId && l.status === g.status))).toEqual([]);
  await srv.close();
});

const ops = served();
const isRead = (op: OperationInfo): boolean => op.method === 'get';
/** Query strings that keep a long-poll from waiting, so the suite measures answers, not timeouts. */
const noWait = (op: OperationInfo): string => (queryParams(op).some((p) => p.name === 'timeout') ? 'timeout=0' : '');

function send(op: OperationInfo, ctx: OpContext, opts: { path?: string; query?: string; token?: string | null; body?: string | Buffer; headers?: Record<string, string> }): Promise<RawResponse> {
  const query = [opts.query, noWait(op)].filter((q) => q).join('&');
  const req: RawRequest = {
    method: op.method.toUpperCase(),
    path: (opts.path ?? fillPath(op, ctx.values)) + (query ? `?${query}` : ''),
    headers: { ...(opts.token !== null ? { authorization: `Bearer ${opts.token ?? ctx.user.accessToken}` } : {}), ...opts.headers },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  };
  return rawRequest(srv.baseUrl, req).then((res) => (isSeedGap(res) ? { ...res, status: 400, text: '{"errcode":"M_INVALID_PARAM","error":"seed spec gap"}' } : res));
}

function sampleFor(op: OperationInfo, ctx: OpContext): Json {
  return sampleBody(op.operationId, { userId: ctx.user.userId, otherUserId: other.userId, eventId: ctx.eventId });
}

/** Sample JSON with one extra member whose raw text is `rawValue` (which may be invalid JSON or bytes). */
function withRawMember(sample: Json, rawValue: Buffer | string, key = 'hostile'): Buffer {
  const json = JSON.stringify({ ...sample, [key]: '@@MARK@@' });
  const [head, tail] = json.split('"@@MARK@@"') as [string, string];
  return Buffer.concat([Buffer.from(head, 'utf8'), Buffer.isBuffer(rawValue) ? rawValue : Buffer.from(rawValue, 'utf8'), Buffer.from(tail, 'utf8')]);
}

/** A value of another JSON type than `type`. */
function wrongTypeFor(type: string | undefined): unknown[] {
  switch (type) {
    case 'string': return [12345, true, null, ['a'], { a: 'b' }];
    case 'boolean': return ['true', 1, null];
    case 'integer': return ['10', 1.5, true, null, {}];
    case 'number': return ['0.5', true, null, []];
    case 'array': return ['a', 1, { 0: 'a' }, null];
    case 'object': return ['a', 1, [], null];
    default: return [];
  }
}

/** Bodies that are wrong by construction: each must be refused with a 4xx and change nothing. */
function invalidBodies(op: OperationInfo, ctx: OpContext): { label: string; body: string | Buffer }[] {
  const sample = sampleFor(op, ctx);
  const out: { label: string; body: string | Buffer }[] = [
    { label: 'not JSON', body: 'this is not json' },
    { label: 'truncated', body: JSON.stringify(sample).slice(0, -1) },
    { label: 'trailing comma', body: '{"a":1,}' },
    { label: 'single quotes', body: "{'a':1}" },
    { label: 'NaN', body: '{"a":NaN}' },
    { label: 'two documents', body: '{"a":1}{"b":2}' },
    { label: 'raw control character in a string', body: '{"a":"\u0001"}' },
    { label: 'NUL before the document', body: '\u0000{}' },
    { label: 'root array', body: '[]' },
    { label: 'root array of the sample', body: JSON.stringify([sample]) },
    { label: 'root string', body: '"str"' },
    { label: 'root number', body: '42' },
    { label: 'root null', body: 'null' },
    { label: 'root true', body: 'true' },
    { label: 'invalid UTF-8 (FF FE) in a value', body: withRawMember(sample, Buffer.from([0x22, 0xff, 0xfe, 0x22])) },
    { label: 'overlong UTF-8 (C0 AF) in a value', body: withRawMember(sample, Buffer.from([0x22, 0xc0, 0xaf, 0x22])) },
    { label: 'UTF-8 encoded surrogate (ED A0 80)', body: withRawMember(sample, Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])) },
    { label: 'truncated UTF-8 sequence', body: withRawMember(sample, Buffer.from([0x22, 0xf0, 0x9f, 0x98, 0x22])) },
    { label: 'invalid UTF-8 in a key', body: Buffer.concat([Buffer.from('{"'), Buffer.from([0xff]), Buffer.from('":1}')]) },
    { label: 'lone high surrogate escape', body: withRawMember(sample, '"\\ud800"') },
    { label: 'lone low surrogate escape', body: withRawMember(sample, '"a\\udc00b"') },
    { label: 'lone surrogate escape in a key', body: '{"\\ud83d":1}' },
    { label: 'deep array (10,000 levels)', body: nested(10_000, 'array') },
    { label: 'deep object (10,000 levels)', body: nested(10_000, 'object') },
    { label: 'deep array inside the sample', body: withRawMember(sample, nested(10_000, 'array')) },
    { label: 'deep object inside the sample', body: withRawMember(sample, nested(10_000, 'object')) },
  ];
  const schema = bodySchema(op);
  for (const [name, prop] of Object.entries(schema?.properties ?? {})) {
    for (const wrong of wrongTypeFor(prop.type)) out.push({ label: `${name} as ${JSON.stringify(wrong)}`, body: JSON.stringify({ ...sample, [name]: wrong }) });
    if (prop.enum) out.push({ label: `${name} outside its enum`, body: JSON.stringify({ ...sample, [name]: 'not-in-enum' }) });
  }
  const required = schema?.required ?? [];
  if (required.length > 0) {
    out.push({ label: 'empty object', body: '{}' });
    out.push({ label: 'only unknown fields', body: '{"unknown":1}' });
    for (const name of required) {
      const rest = { ...sample };
      delete rest[name];
      out.push({ label: `without ${name}`, body: JSON.stringify(rest) });
    }
  }
  return out;
}

/** Bodies that are well-formed but extreme: answered, never a 5xx; refused ones change nothing. */
function stressBodies(op: OperationInfo, ctx: OpContext): { label: string; body: string | Buffer; headers?: Record<string, string> }[] {
  const sample = sampleFor(op, ctx);
  const huge = 'x'.repeat(200_000);
  const out: { label: string; body: string | Buffer; headers?: Record<string, string> }[] = [
    { label: 'huge extra string', body: JSON.stringify({ ...sample, hostile: huge }) },
    { label: 'huge extra array', body: JSON.stringify({ ...sample, hostile: new Array<number>(100_000).fill(0) }) },
    { label: 'many keys', body: JSON.stringify({ ...sample, ...Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])) }) },
    { label: 'odd Unicode in an extra field', body: JSON.stringify({ ...sample, hostile: '\u202e\u0000\ufeff\u200d😀\u{10ffff}', ['\u0000key']: 1 }) },
    { label: 'BOM before the document', body: `\ufeff${JSON.stringify(sample)}` },
    { label: 'nesting 100 levels inside', body: withRawMember(sample, nested(100, 'object')) },
    { label: 'numbers at the edges', body: JSON.stringify({ ...sample, hostile: [1e308, -1e308, 5e-324, 2 ** 53 + 1] }) },
    { label: 'huge number literal', body: withRawMember(sample, '1' + '0'.repeat(5000)) },
    { label: 'text/plain content type', body: JSON.stringify(sample), headers: { 'content-type': 'text/plain' } },
    { label: 'empty body', body: '' },
  ];
  for (const [name, prop] of Object.entries(bodySchema(op)?.properties ?? {})) {
    if (prop.type === 'string') {
      out.push({ label: `huge ${name}`, body: JSON.stringify({ ...sample, [name]: huge }) });
      out.push({ label: `odd Unicode ${name}`, body: JSON.stringify({ ...sample, [name]: '\u202e\u0000😀\u0301' }) });
      out.push({ label: `empty ${name}`, body: JSON.stringify({ ...sample, [name]: '' }) });
    }
    if (prop.type === 'array') out.push({ label: `huge ${name}`, body: JSON.stringify({ ...sample, [name]: new Array<string>(50_000).fill('a') }) });
  }
  return out;
}

const TOKEN_CASES: readonly { label: string; token?: string; headers?: Record<string, string>; query?: string; code: string }[] = [
  { label: 'no token', code: 'M_MISSING_TOKEN' },
  { label: 'garbage token', token: 'not-a-token', code: 'M_UNKNOWN_TOKEN' },
  { label: 'empty bearer', headers: { authorization: 'Bearer ' }, code: 'M_MISSING_TOKEN' },
  { label: 'basic auth', headers: { authorization: 'Basic dXNlcjpwdw==' }, code: 'M_MISSING_TOKEN' },
  { label: 'long token (8 KB)', token: 'A'.repeat(8_000), code: 'M_UNKNOWN_TOKEN' },
  { label: 'query token with odd Unicode', query: `access_token=${encodeURIComponent('\u202e😀\u0000')}`, code: 'M_UNKNOWN_TOKEN' },
  { label: 'query token with invalid percent bytes', query: 'access_token=%FF%FE', code: 'M_UNKNOWN_TOKEN' },
  { label: 'duplicated query token', query: 'access_token=a&access_token=b', code: 'M_MISSING_TOKEN' },
  { label: 'SQL in token', query: `access_token=${encodeURIComponent("' OR 1=1 --")}`, code: 'M_UNKNOWN_TOKEN' },
];

// Each operation gets only the checks that apply to it (no token checks without security,
// no body checks without a JSON body, no path checks without path parameters): a check that
// does not apply is not generated at all, so a skipped test never means "not applicable".
describe.each(ops.map((op) => [op.operationId, op] as const))('%s', (_id, op) => {
  let ctx: OpContext;
  beforeAll(async () => { ctx = await contextFor(); }, 30_000);

  const body = (): string | undefined => (op.hasBody && consumesJson(op) ? JSON.stringify(sampleFor(op, ctx)) : undefined);

  if (needsToken(op)) it('refuses missing, malformed and logged-out tokens with 401, writing nothing', async () => {
    const cases = [
      ...TOKEN_CASES,
      { label: 'logged-out token', token: deadToken, code: 'M_UNKNOWN_TOKEN' },
      { label: 'logged-out token in the query', query: `access_token=${encodeURIComponent(deadToken)}`, code: 'M_UNKNOWN_TOKEN' },
      { label: 'header and query token together', token: ctx.user.accessToken, query: `access_token=${encodeURIComponent(ctx.user.accessToken)}`, code: 'M_MISSING_TOKEN' },
    ];
    for (const c of cases) {
      const label = `${op.operationId} ${c.label}`;
      const res = await watch.expectNoWrite(label, () => send(op, ctx, {
        token: c.token ?? null, ...(c.query ? { query: c.query } : {}), ...(c.headers ? { headers: c.headers } : {}), ...(body() !== undefined ? { body: body()! } : {}),
      }));
      expect(res.status, `${label}: ${res.text}`).toBe(401);
      expect(expectMatrixError(res, label).errcode, label).toBe(c.code);
    }
  });

  if (op.hasBody && consumesJson(op)) it('refuses invalid bodies with a 4xx Matrix error, writing nothing', async () => {
    for (const c of invalidBodies(op, ctx)) {
      const label = `${op.operationId} ${c.label}`;
      const res = await watch.expectNoWrite(label, () => send(op, ctx, { body: c.body }));
      const { errcode } = expectClientError(res, label);
      if (/deep/.test(c.label)) {
        expect(['M_BAD_JSON', 'M_NOT_JSON'], `${label}: ${errcode}`).toContain(errcode);
        expect(res.ms, `${label} took ${res.ms} ms`).toBeLessThan(5_000);
      }
      if (/UTF-8|surrogate/.test(c.label)) expect(['M_BAD_JSON', 'M_NOT_JSON'], `${label}: ${errcode}`).toContain(errcode);
    }
  }, 60_000);

  if (op.hasBody && consumesJson(op)) it('answers extreme but well-formed bodies without a 5xx; refusals write nothing', async () => {
    for (const c of stressBodies(op, ctx)) {
      const label = `${op.operationId} ${c.label}`;
      const m = await watch.mark();
      const res = await send(op, ctx, { body: c.body, ...(c.headers ? { headers: c.headers } : {}) });
      expectNoServerError(res, label);
      if (res.status >= 400) expect(await watch.changes(m), `${label}: refused with ${res.status} but wrote`).toEqual([]);
    }
  }, 60_000);

  if (pathParams(op).length > 0) it('answers hostile path segments without a 5xx; refusals and reads write nothing', async () => {
    for (const p of pathParams(op)) {
      for (const seg of HOSTILE_SEGMENTS) {
        const label = `${op.operationId} ${p.name}=${seg.label}`;
        const m = await watch.mark();
        const res = await send(op, ctx, { path: fillPath(op, ctx.values, { name: p.name, raw: seg.raw }), ...(body() !== undefined ? { body: body()! } : {}) });
        expectNoServerError(res, label);
        if (res.status >= 400 || isRead(op)) expect(await watch.changes(m), `${label}: ${res.status} but wrote`).toEqual([]);
        expect(res.ms, `${label} took ${res.ms} ms`).toBeLessThan(5_000);
      }
    }
  }, 60_000);

  it('answers duplicated, hostile and unknown query parameters without a 5xx', async () => {
    const hostile = ['', 'abc', '-1', '1.5', '99999999999999999999', '%00', '%FF', '..%2F', encodeURIComponent('😀')];
    const queries: string[] = ['unknown=1&unknown=2', 'a[b]=1&a[c]=2', '__proto__=x&constructor[prototype][x]=1', '=&&=x'];
    for (const p of queryParams(op)) {
      if (p.name === 'timeout') {
        queries.push('timeout=abc', 'timeout=-1&timeout=5', 'timeout[]=1', 'timeout=0&timeout=99999');
        continue;
      }
      for (const h of hostile) queries.push(`${p.name}=${h}&${p.name}=${h}x`, `${p.name}[]=${h}`);
      queries.push(`${p.name}=1&${p.name}=2&${p.name}=3`, `${p.name}[a]=1`);
    }
    for (const q of queries) {
      const label = `${op.operationId} ?${q}`;
      const m = await watch.mark();
      const res = await send(op, ctx, { query: q, ...(body() !== undefined ? { body: body()! } : {}) });
      expectNoServerError(res, label);
      if (res.status >= 400 || isRead(op)) expect(await watch.changes(m), `${label}: ${res.status} but wrote`).toEqual([]);
    }
  }, 60_000);
});

describe('extreme nesting and sizes against one endpoint', () => {
  it('answers 100,000 and 500,000 levels of nesting fast with M_BAD_JSON/M_NOT_JSON, and stays up', async () => {
    const ctx = await contextFor();
    const op = ops.find((o) => o.operationId === 'sendMessage')!;
    for (const depth of [100_000, 500_000]) {
      for (const kind of ['array', 'object'] as const) {
        const label = `${kind} ${depth}`;
        const res = await watch.expectNoWrite(label, () => send(op, ctx, { body: nested(depth, kind).slice(0, 1_000_000) }));
        const { errcode } = expectClientError(res, label);
        expect(['M_BAD_JSON', 'M_NOT_JSON', 'M_TOO_LARGE']).toContain(errcode);
        expect(res.ms).toBeLessThan(5_000);
      }
    }
    const ok = await send(op, ctx, { body: JSON.stringify({ msgtype: 'm.text', body: 'still alive' }) });
    expect(ok.status).toBe(200);
  }, 60_000);
});
