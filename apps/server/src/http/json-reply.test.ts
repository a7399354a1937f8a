import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonBuffer, ReplyBuffers } from './json-reply.js';

/** Pieces of JSON with one-, two-, three- and four-byte characters, `count` rooms long. */
function rooms(count: number): string[] {
  const pieces = ['{"rooms":['];
  for (let i = 0; i < count; i++) pieces.push(`${i ? ',' : ''}${JSON.stringify({ room_id: `!r${i}:x`, body: `caf\u00e9 \u2603 \u{1F600} ${'x'.repeat(i % 50)}` })}`);
  pieces.push(']}');
  return pieces;
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server whose handler is set per test; resolves to its URL. */
async function serve(handler: (res: ServerResponse, path: string) => void): Promise<string> {
  server = createServer((req, res) => handler(res, req.url ?? ''));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function get(url: string): Promise<{ headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

const closed = (res: ServerResponse): Promise<void> => new Promise((r) => res.once('close', () => r()));

describe('JsonBuffer', () => {
  it('encodes what it is given as one UTF-8 text, growing past its first buffer', () => {
    const pieces = rooms(3000);
    const out = new JsonBuffer(new ReplyBuffers());
    for (const p of pieces) out.write(p);
    const expected = Buffer.from(pieces.join(''));
    expect(expected.length).toBeGreaterThan(2 * 64 * 1024);
    expect(out.byteLength).toBe(expected.length);
    expect(out.toString()).toBe(pieces.join(''));
  });

  it('grows for a text whose characters fit the space left but whose bytes do not', () => {
    const out = new JsonBuffer(new ReplyBuffers());
    const head = `"${'a'.repeat(64 * 1024 - 102)}`;
    out.write(head);
    // 60 characters, 180 bytes, 100 bytes left
    const tail = `${'\u4e2d'.repeat(60)}"`;
    out.write(tail);
    expect(out.byteLength).toBe(Buffer.byteLength(head + tail));
    expect(out.toString()).toBe(head + tail);
  });

  it('sends its bytes with their length, then gives its buffer back for the next answer', async () => {
    const buffers = new ReplyBuffers();
    const pieces = rooms(2000);
    const url = await serve((res) => {
      const out = new JsonBuffer(buffers);
      for (const p of pieces) out.write(p);
      out.send(res, 200);
    });
    for (let i = 0; i < 3; i++) {
      const { headers, body } = await get(url);
      expect(headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Number(headers['content-length'])).toBe(body.length);
      expect(JSON.parse(body.toString('utf8'))).toEqual(JSON.parse(pieces.join('')));
    }
    // the first answer grew through a few buffers; the later ones took the pooled one
    const afterFirst = buffers.allocated;
    await get(url);
    expect(buffers.allocated).toBe(afterFirst);
  });

  it('gives two answers in flight two buffers', async () => {
    const buffers = new ReplyBuffers();
    const a = rooms(5000);
    const b = rooms(4000).map((p) => p.replaceAll('!r', '!s'));
    const holding: ServerResponse[] = [];
    const url = await serve((res, path) => {
      const out = new JsonBuffer(buffers);
      for (const p of path === '/a' ? a : b) out.write(p);
      holding.push(res);
      out.send(res, 200);
    });
    // both built before either is read: one buffer reused by the second would corrupt the first
    const [ra, rb] = await Promise.all([get(`${url}/a`), get(`${url}/b`)]);
    expect(ra.body.toString('utf8')).toBe(a.join(''));
    expect(rb.body.toString('utf8')).toBe(b.join(''));
    await Promise.all(holding.map((r) => (r.closed ? undefined : closed(r))));
    expect(buffers.freeCount).toBeGreaterThanOrEqual(2);
  });

  it('takes back the buffer of an answer cut off only once its connection has closed', async () => {
    const buffers = new ReplyBuffers();
    // large enough that the kernel's socket buffers cannot take it all at once
    const large = rooms(200_000);
    let cut: ServerResponse | undefined;
    // the pool's count when the answer was sent, then at each event before the close
    let freeAtSend = -1;
    const freeBeforeClose: number[] = [];
    const url = await serve((res, path) => {
      const out = new JsonBuffer(buffers);
      for (const p of path === '/cut' ? large : rooms(3000)) out.write(p);
      freeAtSend = buffers.freeCount;
      out.send(res, 200);
      if (path === '/cut') {
        cut = res;
        // the cut connection errors, and node:http emits 'finish' while a write may be in
        // flight (listened to after send's own listeners, so as to see what they did)
        res.once('finish', () => freeBeforeClose.push(buffers.freeCount));
        res.socket!.once('error', () => freeBeforeClose.push(buffers.freeCount));
      }
    });
    await new Promise<void>((resolve) => {
      const req = request(`${url}/cut`, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.end();
    });
    if (!cut!.closed) await closed(cut!);
    expect(freeBeforeClose.length).toBeGreaterThan(0);
    for (const n of freeBeforeClose) expect(n).toBe(freeAtSend);
    expect(buffers.freeCount).toBe(freeAtSend + 1);
    // the next answer takes that buffer, and nothing of the cut one shows in it
    const allocated = buffers.allocated;
    const { body } = await get(`${url}/next`);
    expect(body.toString('utf8')).toBe(rooms(3000).join(''));
    expect(buffers.allocated).toBe(allocated);
  });

  it('releases once, and the pool keeps at most its limit', () => {
    const buffers = new ReplyBuffers(1024 * 1024 + 128 * 1024);
    const outs = Array.from({ length: 6 }, () => new JsonBuffer(buffers));
    for (const o of outs) {
      o.release();
      o.release();
    }
    // six 64 KiB buffers, each given back once
    expect(buffers.allocated).toBe(6);
    expect(buffers.freeCount).toBe(6);
    const big = buffers.take(1024 * 1024);
    expect(big.length).toBe(1024 * 1024);
    expect(buffers.allocated).toBe(7);
    buffers.give(big);
    // over the limit: the smallest go first
    expect(buffers.freeCount).toBe(3);
    expect(buffers.take(1)).toBe(big);
    // a buffer larger than the limit is not kept
    buffers.give(buffers.take(2 * 1024 * 1024));
    expect(buffers.freeCount).toBe(2);
  });
});
