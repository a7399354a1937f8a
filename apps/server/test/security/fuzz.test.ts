/**
 * Property-based fuzzing (fast-check, seeded) of every served operation: random methods'
 * worth of bodies (JSON of any shape, mutated sample bodies, raw bytes), path parameters
 * (valid ids, random Unicode, hostile segments), query strings and tokens.
 *
 * Property: never a 5xx, every error a Matrix error, an answer within 5 s, and a refusal
 * leaves the database as it was.
 *
 *   AXON_FUZZ_SECONDS  how long to run (default 5; CI runs 45; see docs/security.md)
 *   AXON_FUZZ_SEED     the seed (default fixed, so a failure reproduces)
 */
import type { OperationInfo } from '@axon/contract';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, V1, type Account, type TestServer } from '../helpers/index.js';
import {
  consumesJson, DbWatch, fillPath, HOSTILE_SEGMENTS, queryParams, rawRequest, sampleBody, served, startSecurityServer, validPathValues,
  type PathValues, type RawResponse,
} from './util.js';

const SECONDS = Number(process.env.AXON_FUZZ_SECONDS ?? 5);
const SEED = Number(process.env.AXON_FUZZ_SEED ?? 0x5eed_11);

let srv: TestServer;
let watch: DbWatch;
let alice: Account;
let bob: Account;
let values: PathValues;
let eventId: string;

beforeAll(async () => {
  srv = await startSecurityServer();
  watch = await DbWatch.open(srv);
  [alice, bob] = await Promise.all([register(srv.baseUrl), register(srv.baseUrl)]);
  const created = await request<{ room_id: string }>(srv.baseUrl, 'POST', `${V1}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } });
  const sent = await request<{ event_id: string }>(srv.baseUrl, 'PUT', `${V1}/rooms/${encodeURIComponent(created.body.room_id)}/send/m.room.message/f1`,
    { token: alice.accessToken, body: { msgtype: 'm.text', body: 'fuzz' } });
  eventId = sent.body.event_id;
  values = validPathValues({ userId: alice.userId, roomId: created.body.room_id, eventId, serverName: srv.config.server_name });
}, 30_000);
afterAll(async () => {
  await watch?.close();
  await srv.close();
});

const ops = served();

/** A path parameter: usually valid (to get past routing into the handler), sometimes anything. */
const segment = (name: string): fc.Arbitrary<string> => fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS.map((s) => s.raw)) },
  { weight: 1, arbitrary: fc.constantFrom('!', '@', '#', '$', ':').chain((sigil) => fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(`${sigil}${s}:${name === 'serverName' ? '' : 'localhost'}`))) },
);

const jsonish = fc.jsonValue({ maxDepth: 6 });
/** Bodies: mutated samples (most useful: they pass the schema and reach handlers), any JSON, raw bytes. */
const bodyFor = (op: OperationInfo): fc.Arbitrary<string | Buffer | undefined> => {
  if (!op.hasBody || !consumesJson(op)) return fc.constant(undefined);
  const sample = () => sampleBody(op.operationId, { userId: alice.userId, otherUserId: bob.userId, eventId });
  return fc.oneof(
    { weight: 4, arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), jsonish, { maxKeys: 4 }).map((extra) => JSON.stringify({ ...sample(), ...extra })) },
    { weight: 2, arbitrary: fc.record({ key: fc.constantFrom(...Object.keys(sample()), 'x'), value: jsonish }).map(({ key, value }) => JSON.stringify({ ...sample(), [key]: value })) },
    { weight: 2, arbitrary: jsonish.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  );
};

const queryFor = (op: OperationInfo): fc.Arbitrary<string> => {
  const names = [...queryParams(op).map((p) => p.name), 'x'];
  // access_token only now and then: with the header it makes every request a 401.
  const name = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.constant('access_token') });
  const pair = fc.tuple(name, fc.oneof(fc.string({ maxLength: 20 }).map(encodeURIComponent), fc.integer().map(String), fc.constantFrom('%FF', '%00', '')));
  return fc.array(pair, { maxLength: 4 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
};

const tokenArb = fc.oneof({ weight: 6, arbitrary: fc.constant('alice') }, { weight: 1, arbitrary: fc.constant('none') }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }) });

interface Case { op: OperationInfo; params: Record<string, string>; body: string | Buffer | undefined; query: string; token: string }
const caseArb: fc.Arbitrary<Case> = fc.constantFrom(...ops).chain((op) => fc.record({
  op: fc.constant(op),
  params: fc.record(Object.fromEntries(op.parameters.filter((p) => p.in === 'path').map((p) => [p.name, segment(p.name)]))) as fc.Arbitrary<Record<string, string>>,
  body: bodyFor(op),
  query: queryFor(op),
  token: tokenArb,
}));

function toRequest(c: Case): { method: string; path: string; headers: Record<string, string>; body?: string | Buffer } {
  let path = c.op.path;
  for (const [name, raw] of Object.entries(c.params)) {
    // '' means: the valid value.
    if (raw !== '') path = fillPath({ ...c.op, path }, values, { name, raw });
  }
  path = fillPath({ ...c.op, path }, values);
  // timeout=0 first (the first of a repeated parameter wins), so polls answer at once.
  const noWait = queryParams(c.op).some((p) => p.name === 'timeout') ? 'timeout=0&' : '';
  // Logging out would end the run's session: fuzz logout only with foreign tokens.
  const token = c.token === 'alice' ? (c.op.operationId === 'logout' ? 'not-a-token' : alice.accessToken) : c.token;
  const headers: Record<string, string> = {};
  if (c.token !== 'none') headers.authorization = `Bearer ${token.replace(/[^\x21-\x7e]/g, '')}`;
  return { method: c.op.method.toUpperCase(), path: `${path}?${noWait}${c.query}`, headers, ...(c.body !== undefined ? { body: c.body } : {}) };
}

describe(`fuzz every served operation (${SECONDS} s, seed ${SEED})`, () => {
  it('never a 5xx, a hang or a non-Matrix error; refusals write nothing', async () => {
    let runs = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        runs++;
        const req = toRequest(c);
        const m = await watch.mark();
        const res: RawResponse = await rawRequest(srv.baseUrl, { ...req, timeoutMs: 5_000 });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const label = `${c.op.operationId} ${req.method} ${req.path.slice(0, 200)}`;
        if (res.status >= 500) throw new Error(`${label}: ${res.status} ${res.text.slice(0, 300)}`);
        if (res.status >= 400) {
          const body = JSON.parse(res.text) as { errcode?: unknown; error?: unknown };
          if (typeof body.errcode !== 'string' || !/^M_[A-Z_]+$/.test(body.errcode) || typeof body.error !== 'string') throw new Error(`${label}: not a Matrix error: ${res.text.slice(0, 200)}`);
          const changed = await watch.changes(m);
          if (changed.length > 0) throw new Error(`${label}: refused with ${res.status} but changed ${changed.join(', ')}`);
        }
      }),
      { seed: SEED, numRuns: 1_000_000, interruptAfterTimeLimit: SECONDS * 1000, markInterruptAsFailure: false, endOnFailure: false },
    );
    console.info(`fuzz: ${runs} requests in ${SECONDS} s (seed ${SEED}); statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(runs).toBeGreaterThan(0);
    // The server is still up and serving.
    expect((await request(srv.baseUrl, 'GET', '/_matrix/client/versions')).status).toBe(200);
  }, (SECONDS + 120) * 1000);
});
