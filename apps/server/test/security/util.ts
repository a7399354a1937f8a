/** Shared by the security suites: the served operations, hostile values, DB snapshots, raw HTTP. */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OperationInfo } from '@axon/contract';
import { expect } from 'vitest';
import { servedOperations } from '../../src/http/router.js';
import { connectDb, startServer, type DbConnection, type StartOptions, type TestServer } from '../helpers/index.js';

export type Json = Record<string, unknown>;

const LAX = { per_second: 100_000, burst_count: 1_000_000 };
/** A test server whose rate limits never answer 429 before the check under test runs. */
export function startSecurityServer(options: StartOptions = {}): Promise<TestServer> {
  return startServer({ ...options, config: { rc_message: LAX, rc_login: LAX, rc_registration: LAX, ...options.config } });
}

/**
 * Every operation the router serves, read live from the operation table minus the
 * not-yet-implemented list: operations that land later are covered with no edit here.
 */
export function served(): OperationInfo[] {
  return servedOperations();
}

/** JSON bodies (media upload consumes raw bytes). */
export function consumesJson(op: OperationInfo): boolean {
  return op.consumes.length === 0 || op.consumes.some((c) => c === 'application/json' || c.endsWith('+json'));
}

export const needsToken = (op: OperationInfo): boolean => op.security.length > 0;
export const pathParams = (op: OperationInfo) => op.parameters.filter((p) => p.in === 'path');
export const queryParams = (op: OperationInfo) => op.parameters.filter((p) => p.in === 'query');

interface BodySchema { type?: string; properties?: Record<string, { type?: string; enum?: unknown[] }>; required?: string[] }
const bundlePath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../packages/contract/src/generated/schemas.json');
const bundle = JSON.parse(readFileSync(bundlePath, 'utf8')) as { operations: Record<string, { body?: BodySchema }> };
/** The spec's request body schema of an operation, if it has one. */
export function bodySchema(op: OperationInfo): BodySchema | undefined {
  return bundle.operations[op.operationId]?.body;
}

/** Valid values for path parameters, by name, so a request reaches the check under test. */
export interface PathValues { [name: string]: string }

/** Fills a path template; `override` replaces one parameter with a raw (already encoded) value. */
export function fillPath(op: OperationInfo, values: PathValues, override?: { name: string; raw: string }): string {
  return op.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (override && override.name === name) return override.raw;
    const v = values[name] ?? `${name}_value`;
    return encodeURIComponent(typeof v === 'function' ? (v as () => string)() : v);
  });
}

let txn = 0;
/** Path values for a user joined to `roomId` who sent `eventId`. */
export function validPathValues(ctx: { userId: string; roomId: string; eventId: string; serverName: string }): PathValues {
  const values: PathValues = {
    roomId: ctx.roomId,
    roomIdOrAlias: ctx.roomId,
    roomAlias: `#hostile_alias:${ctx.serverName}`,
    userId: ctx.userId,
    eventId: ctx.eventId,
    eventType: 'm.room.message',
    stateKey: '',
    type: 'org.example.hostile',
    tag: 'u.hostile',
    serverName: ctx.serverName,
    mediaId: 'abcdefghijklmnop',
    receiptType: 'm.read',
  };
  // txnIds are fresh per request, so a retry check never answers for the hostile body.
  Object.defineProperty(values, 'txnId', { enumerable: true, get: () => `hostile${process.pid}_${++txn}` });
  return values;
}

/** Path segments an attacker might send, already percent-encoded as they go on the wire. */
export const HOSTILE_SEGMENTS: readonly { label: string; raw: string }[] = [
  { label: 'encoded slash', raw: '%2F' },
  { label: 'encoded slash in id', raw: '!abc%2F..%2Fdef:localhost' },
  { label: 'dot', raw: '.' },
  { label: 'dot dot', raw: '..' },
  { label: 'encoded dot dot', raw: '%2E%2E' },
  { label: 'encoded dot dot slash', raw: '..%2F..%2F..%2Fetc%2Fpasswd' },
  { label: 'invalid percent encoding', raw: '%E0%A4%A' },
  { label: 'invalid UTF-8 percent bytes', raw: '%FF%FE%80' },
  { label: 'encoded NUL', raw: 'a%00b' },
  { label: 'encoded lone surrogate (CESU)', raw: '%ED%A0%80' },
  { label: 'RTL override and zero-width joiner', raw: encodeURIComponent('\u202e\u200d\ufeff') },
  { label: 'emoji', raw: encodeURIComponent('😀🏳️‍🌈') },
  { label: 'sigil only (room)', raw: '!' },
  { label: 'sigil only (user)', raw: '%40' },
  { label: 'colon only', raw: ':' },
  { label: 'malformed user id', raw: encodeURIComponent('@:') },
  { label: 'malformed room id', raw: encodeURIComponent('!nocolon') },
  { label: 'malformed alias', raw: encodeURIComponent('#:') },
  { label: 'event id of another server', raw: encodeURIComponent('$abc:evil.example') },
  { label: 'oversized room id (300)', raw: encodeURIComponent(`!${'a'.repeat(300)}:localhost`) },
  { label: 'oversized user id (300)', raw: encodeURIComponent(`@${'a'.repeat(300)}:localhost`) },
  { label: 'oversized alias (300)', raw: encodeURIComponent(`#${'a'.repeat(300)}:localhost`) },
  { label: 'oversized segment (6000)', raw: 'x'.repeat(6000) },
  { label: 'SQL in id', raw: encodeURIComponent("!a' OR '1'='1:localhost") },
  { label: 'LIKE wildcards', raw: encodeURIComponent('%_%') },
  { label: 'whitespace', raw: '%20%09%0A' },
];

/** Tables and a digest of their rows: equal snapshots mean the database did not change. */
export interface DbSnapshot { [table: string]: string }

/** Every row of `tables`, in an order that does not depend on where the rows sit on disk. */
async function snapshotTables(conn: DbConnection, tables: readonly string[]): Promise<DbSnapshot> {
  const out: DbSnapshot = {};
  for (const name of tables) {
    const rows = await conn.query(conn.backend === 'sqlite' ? `SELECT * FROM "${name}"` : `SELECT * FROM "${name}" t ORDER BY t::text COLLATE "C"`);
    out[name] = `${rows.length}:${JSON.stringify(rows)}`;
  }
  return out;
}

/** Every row of every table (but `ignore`), read through a connection of its own, on either backend. */
export async function snapshotDb(srv: TestServer, ignore: readonly string[] = []): Promise<DbSnapshot> {
  const conn = await connectDb(srv);
  try {
    return await snapshotTables(conn, (await conn.tables()).filter((t) => !ignore.includes(t)));
  } finally {
    await conn.close();
  }
}

/** Which tables differ between two snapshots. */
export function changedTables(a: DbSnapshot, b: DbSnapshot): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((n) => a[n] !== b[n]).sort();
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  ms: number;
}

export interface RawRequest {
  method: string;
  /** Sent exactly as given (no normalisation by fetch/URL). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}

/**
 * One request through node:http with the path sent byte for byte: fetch would resolve
 * `..` and re-encode, hiding exactly what the suite wants the server to see.
 */
export function rawRequest(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
    const r = httpRequest({
      host: url.hostname, port: url.port, method: req.method, path: req.path, agent: false,
      headers: { ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}), ...req.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - started }));
      res.on('error', reject);
    });
    r.setTimeout(req.timeoutMs ?? 20_000, () => { r.destroy(new Error(`${req.method} ${req.path.slice(0, 120)}: no answer in ${req.timeoutMs ?? 20_000} ms (hang)`)); });
    r.on('error', reject);
    if (body) r.write(body);
    r.end();
  });
}

const ERRCODE = /^M_[A-Z_]+$/;

/** The body of a Matrix error, or a failure naming the request. */
export function expectMatrixError(res: RawResponse, label: string): { errcode: string; error: string } {
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    expect.fail(`${label}: ${res.status} with a non-JSON body: ${res.text.slice(0, 200)}`);
  }
  const { errcode, error } = (body ?? {}) as { errcode?: unknown; error?: unknown };
  expect(typeof errcode === 'string' && ERRCODE.test(errcode), `${label}: errcode ${String(errcode)} in ${res.text.slice(0, 200)}`).toBe(true);
  expect(typeof error, `${label}: error message`).toBe('string');
  return { errcode: errcode as string, error: error as string };
}

/** A 4xx with a well-formed Matrix error: what every hostile request must get. */
export function expectClientError(res: RawResponse, label: string): { errcode: string; error: string } {
  expect(res.status >= 400 && res.status < 500, `${label}: status ${res.status} ${res.text.slice(0, 300)}`).toBe(true);
  return expectMatrixError(res, label);
}

/** Never a 5xx; an error answer is a Matrix error; a success is JSON. */
export function expectNoServerError(res: RawResponse, label: string): void {
  expect(res.status < 500, `${label}: status ${res.status} ${res.text.slice(0, 300)}`).toBe(true);
  if (res.status >= 400) expectMatrixError(res, label);
}

/** `[[[...]]]` or `{"a":{"a":...}}`, `depth` levels, built without recursion. */
export function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/**
 * A plausible body per operation (what a well-behaved client sends), mutated by the
 * hostile and fuzz suites; operations not listed start from `{}`.
 */
export function sampleBody(operationId: string, ctx: { userId: string; otherUserId: string; eventId: string }): Json {
  const unique = `s${process.pid}_${Date.now().toString(36)}_${++txn}`;
  switch (operationId) {
    case 'registerV1': return { type: 'm.login.password', user: unique, password: 'pw' };
    case 'registerV2': return { username: unique, password: 'pw', auth: { type: 'm.login.dummy', session: 'nope' } };
    case 'login': return { type: 'm.login.password', user: ctx.userId, password: 'wrong password' };
    case 'adminRegisterWithSharedSecret': return { nonce: 'nope', username: unique, password: 'pw', mac: '00' };
    case 'changePassword': return { new_password: 'correct horse' };
    case 'createRoom': return { name: 'hostile', topic: 'hostile', preset: 'private_chat' };
    case 'inviteUser': case 'kickUser': case 'banUser': case 'unbanUser': return { user_id: ctx.otherUserId };
    case 'sendMessage': case 'postMessage': return { msgtype: 'm.text', body: 'hello' };
    case 'redactEvent': case 'postRedaction': return { reason: 'spam' };
    case 'setRoomState': case 'setRoomStateWithKey': return { topic: 'hostile' };
    case 'setRoomAlias': return { room_id: '!nope:localhost' };
    case 'setDisplayName': return { displayname: 'Hostile' };
    case 'setAvatarUrl': return { avatar_url: 'mxc://localhost/abc' };
    case 'setPresence': return { presence: 'online', status_msg: 'hi' };
    case 'modifyPresenceList': return { invite: [ctx.otherUserId], drop: [] };
    case 'setTyping': return { typing: true, timeout: 1000 };
    case 'setRoomTag': return { order: 0.5 };
    default: return {};
  }
}

/**
 * Tables the server writes in the background or as a documented side effect of reads:
 * presence (a poll marks its user online, and goes offline later on a timer).
 */
export const BACKGROUND_TABLES: readonly string[] = ['presence'];

export interface DbMark { v: string; snap: DbSnapshot }

/**
 * Watches the server's database for commits through a connection of its own, on either
 * backend, and compares table contents (background tables aside).
 * - SQLite: `PRAGMA data_version` changes whenever another connection commits, so the
 *   full row snapshot is only re-read when something was committed.
 * - PostgreSQL: every insert, update or delete gives a row a new (ctid, xmin), so a digest
 *   of those per table (cheap: no column is read) says which tables may have changed; only
 *   their contents are digested again (md5 of the sorted rows, computed by the server).
 */
export class DbWatch {
  private last: DbMark | null = null;
  /** PostgreSQL: the content digest of each table and the (ctid, xmin) digest it was taken at. */
  private readonly digests = new Map<string, { fp: string; digest: string }>();
  private constructor(private readonly conn: DbConnection, private readonly tables: readonly string[]) {}

  static async open(srv: TestServer, ignore: readonly string[] = BACKGROUND_TABLES): Promise<DbWatch> {
    const conn = await connectDb(srv);
    return new DbWatch(conn, (await conn.tables()).filter((t) => !ignore.includes(t)));
  }

  private async pgFingerprints(): Promise<Record<string, string>> {
    const sql = this.tables.map((t) => `SELECT '${t}' AS t, count(*) || ':' || coalesce(md5(string_agg(ctid::text || xmin::text, ',' ORDER BY ctid)), '') AS fp FROM "${t}"`).join(' UNION ALL ');
    return Object.fromEntries((await this.conn.query<{ t: string; fp: string }>(sql)).map((r) => [r.t, r.fp]));
  }

  /** The database as it is now (cheap when nothing was committed since the last mark). */
  async mark(): Promise<DbMark> {
    if (this.conn.backend === 'sqlite') {
      const [row] = await this.conn.query<{ data_version: number }>('PRAGMA data_version');
      const v = String(row!.data_version);
      if (this.last?.v !== v) this.last = { v, snap: await snapshotTables(this.conn, this.tables) };
      return this.last;
    }
    const fps = await this.pgFingerprints();
    const v = JSON.stringify(fps);
    if (this.last?.v === v) return this.last;
    const stale = this.tables.filter((t) => this.digests.get(t)?.fp !== fps[t]);
    if (stale.length > 0) {
      const sql = stale.map((t) => `SELECT '${t}' AS t, count(*) || ':' || coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text COLLATE "C")), '') AS digest FROM "${t}" r`).join(' UNION ALL ');
      for (const r of await this.conn.query<{ t: string; digest: string }>(sql)) this.digests.set(r.t, { fp: fps[r.t]!, digest: r.digest });
    }
    this.last = { v, snap: Object.fromEntries(this.tables.map((t) => [t, this.digests.get(t)!.digest])) };
    return this.last;
  }

  /** Tables whose rows differ from `since` (background tables aside). */
  async changes(since: DbMark): Promise<string[]> {
    const now = await this.mark();
    return now.v === since.v ? [] : changedTables(since.snap, now.snap);
  }

  /** Runs `fn`; fails naming the changed tables if the database changed meanwhile. */
  async expectNoWrite<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const m = await this.mark();
    const out = await fn();
    const changed = await this.changes(m);
    if (changed.length > 0) expect.fail(`${label}: the database changed (${changed.join(', ')})`);
    return out;
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}
