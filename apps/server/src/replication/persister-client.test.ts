import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ForwardedMessage } from '../domain/rooms/room-service.js';
import { MatrixError } from '../errors.js';
import { createLogger } from '../logging.js';
import { PersisterClient } from './persister-client.js';
import { SEND_MESSAGES_PATH, type SendMessagesRequest } from './persister-protocol.js';

type Handler = (body: SendMessagesRequest, req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
const clients: PersisterClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
});

/** A stand-in persister on loopback; every request it gets is kept. */
async function fakePersister(handler: Handler): Promise<{ url: string; posts: { path: string; auth: string | undefined; body: SendMessagesRequest }[] }> {
  const posts: { path: string; auth: string | undefined; body: SendMessagesRequest }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SendMessagesRequest;
      posts.push({ path: req.url!, auth: req.headers.authorization, body });
      handler(body, req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts };
}

const silent = createLogger('silent');
const client = (url: string, timeoutMs = 2_000, maxInFlight = 4): PersisterClient => {
  const c = new PersisterClient(url, 's3cret', silent, { timeoutMs, retryAfterMs: 200, maxInFlight });
  clients.push(c);
  return c;
};
const message = (i: number): ForwardedMessage => ({
  userId: '@u:x', tokenHash: 'h', roomId: '!r:x', type: 'm.room.message', content: { body: `m${i}` }, txnId: `t${i}`,
});
const eventFor = (m: SendMessagesRequest['messages'][number], i: number) => ({
  event_id: `$${m.txn_id}:x`, room_id: m.room_id, type: m.type, sender: m.user_id, content: m.content,
  origin_server_ts: 1, stream_ordering: i + 1, topological_ordering: i + 1,
});
const answerAll: Handler = (body, _req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ results: body.messages.map(eventFor).map((event) => ({ event })) }));
};

describe('PersisterClient', () => {
  it('sends the messages of one turn in one POST, with the secret, and hands back each event', async () => {
    const p = await fakePersister(answerAll);
    const c = client(p.url);
    const events = await Promise.all([0, 1, 2].map((i) => c.forward(message(i))));
    expect(events.map((e) => e?.event_id)).toEqual(['$t0:x', '$t1:x', '$t2:x']);
    expect(p.posts).toHaveLength(1);
    expect(p.posts[0]!.path).toBe(SEND_MESSAGES_PATH);
    expect(p.posts[0]!.auth).toBe('Bearer s3cret');
    expect(p.posts[0]!.body.messages.map((m) => m.txn_id)).toEqual(['t0', 't1', 't2']);
    expect(c.counts).toEqual({ forwarded: 3, storedHere: 0 });
  });

  it.each([1, 2])('keeps at most %i POSTs out: what arrives meanwhile goes in the next', async (maxInFlight) => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    // the first maxInFlight POSTs are held until released
    const p = await fakePersister((body, req, res) => { void (p.posts.length <= maxInFlight ? held : Promise.resolve()).then(() => answerAll(body, req, res)); });
    const c = client(p.url, 2_000, maxInFlight);
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < maxInFlight; i++) {
      sent.push(c.forward(message(i)));
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = maxInFlight; i < maxInFlight + 3; i++) sent.push(c.forward(message(i)));
    await new Promise((r) => setTimeout(r, 50));
    expect(p.posts).toHaveLength(maxInFlight);
    release();
    await Promise.all(sent);
    expect(p.posts.map((x) => x.body.messages.length)).toEqual([...Array<number>(maxInFlight).fill(1), 3]);
  });

  it('rejects with the Matrix error the persister gave for a message, and resolves the others', async () => {
    const p = await fakePersister((body, _req, res) => {
      res.writeHead(200).end(JSON.stringify({ results: body.messages.map((m, i) => (i === 1
        ? { status: 403, errcode: 'M_FORBIDDEN', error: 'not in room' }
        : { event: eventFor(m, i) })) }));
    });
    const c = client(p.url);
    const [a, b] = await Promise.allSettled([c.forward(message(0)), c.forward(message(1))]);
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    const err = (b as PromiseRejectedResult).reason as MatrixError;
    expect(err).toBeInstanceOf(MatrixError);
    expect([err.httpStatus, err.errcode, err.message]).toEqual([403, 'M_FORBIDDEN', 'not in room']);
  });

  it.each([
    ['answers with an error status', ((_b, _q, res) => { res.writeHead(403).end('{"errcode":"M_FORBIDDEN","error":"Wrong worker_replication_secret"}'); }) as Handler],
    ['answers with fewer results than messages', ((_b, _q, res) => { res.writeHead(200).end('{"results":[]}'); }) as Handler],
    ['answers with something not JSON', ((_b, _q, res) => { res.writeHead(200).end('<html>'); }) as Handler],
    ['answers with a result that is not an object', ((_b, _q, res) => { res.writeHead(200).end('{"results":[null]}'); }) as Handler],
    ['answers with an event without an id', ((_b, _q, res) => { res.writeHead(200).end('{"results":[{"event":{}}]}'); }) as Handler],
    ['answers with an error without a status', ((_b, _q, res) => { res.writeHead(200).end('{"results":[{"errcode":"M_FORBIDDEN","error":"no"}]}'); }) as Handler],
    ['cuts the connection', ((_b, req) => { req.socket.destroy(); }) as Handler],
  ])('leaves messages to this process when the persister %s, then tries again after a pause', async (_what, handler) => {
    let broken = true;
    const p = await fakePersister((body, req, res) => (broken ? handler(body, req, res) : answerAll(body, req, res)));
    const c = client(p.url);
    expect(await c.forward(message(0))).toBeUndefined();
    // within the pause: not even tried
    expect(await c.forward(message(1))).toBeUndefined();
    expect(p.posts).toHaveLength(1);
    expect(c.counts).toEqual({ forwarded: 0, storedHere: 2 });
    broken = false;
    await new Promise((r) => setTimeout(r, 250));
    expect((await c.forward(message(2)))?.event_id).toBe('$t2:x');
    expect(c.counts).toEqual({ forwarded: 1, storedHere: 2 });
  });

  it('leaves messages to this process when nothing listens, or no answer comes in time', async () => {
    const nobody = await fakePersister(answerAll);
    const port = new URL(nobody.url).port;
    await new Promise<void>((r) => { const s = servers.pop()!; s.close(() => r()); });
    expect(await client(`http://127.0.0.1:${port}`).forward(message(0))).toBeUndefined();
    const mute = await fakePersister(() => { /* never answers */ });
    const started = Date.now();
    expect(await client(mute.url, 300).forward(message(1))).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('fills a POST up to about 8 MiB, and leaves a message far over the event size limit to this process', async () => {
    const p = await fakePersister(answerAll);
    const c = client(p.url);
    const big = (i: number, mib: number): ForwardedMessage => ({ ...message(i), content: { body: 'x'.repeat(mib * 1024 * 1024) } });
    const events = await Promise.all([big(0, 3), big(1, 3), big(2, 3), big(3, 9), message(4)].map((m) => c.forward(m)));
    expect(events.map((e) => e?.event_id)).toEqual(['$t0:x', '$t1:x', '$t2:x', undefined, '$t4:x']);
    // two POSTs out at once, in whichever order they arrive
    expect(p.posts.map((x) => x.body.messages.map((m) => m.txn_id)).sort()).toEqual([['t0', 't1'], ['t2', 't4']]);
  });

  it('cuts a POST still out when closed, and leaves its messages to this process', async () => {
    const p = await fakePersister(() => { /* never answers */ });
    const c = client(p.url);
    const pending = c.forward(message(0));
    await new Promise((r) => setTimeout(r, 50));
    expect(p.posts).toHaveLength(1);
    c.close();
    expect(await pending).toBeUndefined();
  });

  it('once closed, leaves every message to this process', async () => {
    const p = await fakePersister(answerAll);
    const c = client(p.url);
    c.close();
    expect(await c.forward(message(0))).toBeUndefined();
    expect(p.posts).toHaveLength(0);
  });
});
