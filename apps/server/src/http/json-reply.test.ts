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
    // 60 characters, 180 bytes, 101 bytes left
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

  it('gives two answers in flight two buffers, and takes both back once both have closed', async () => {
    const buffers = new ReplyBuffers();
    // larger than the kernel's socket buffers, and not read until both are sent: both
    // answers are still being written when the second is built
    const a = rooms(150_000);
    const b = rooms(120_000).map((p) => p.replaceAll('!r', '!s'));
    const holding: ServerResponse[] = [];
    let freeWhenBothSent = -1;
    let bothSent!: () => void;
    const sent = new Promise<void>((r) => { bothSent = r; });
    const url = await serve((res, path) => {
      const out = new JsonBuffer(buffers);
      for (const p of path === '/a' ? a : b) out.write(p);
      out.send(res, 200);
      holding.push(res);
      if (holding.length === 2) {
        freeWhenBothSent = buffers.freeCount;
        bothSent();
      }
    });
    const read = (path: string): Promise<Buffer> => new Promise((resolve, reject) => {
      request(`${url}${path}`, { agent: false }, (res) => {
        res.pause();
        void sent.then(() => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.resume();
        });
      }).on('error', reject).end();
    });
    const [ra, rb] = await Promise.all([read('/a'), read('/b')]);
    expect(ra.toString('utf8')).toBe(a.join(''));
    expect(rb.toString('utf8')).toBe(b.join(''));
    await Promise.all(holding.map((r) => (r.closed ? undefined : closed(r))));
    expect(buffers.freeCount).toBe(freeWhenBothSent + 2);
  });

  it('gives its buffer back at once when the client left before the answer was sent', async () => {
    const buffers = new ReplyBuffers();
    let freeBefore = -1;
    let done!: () => void;
    const handled = new Promise<void>((r) => { done = r; });
    const url = await serve((res) => {
      res.once('close', () => {
        const out = new JsonBuffer(buffers);
        for (const p of rooms(3000)) out.write(p);
        freeBefore = buffers.freeCount;
        out.send(res, 200);
        done();
      });
    });
    const req = request(url, { agent: false });
    req.on('error', () => {});
    req.end();
    await new Promise((r) => setTimeout(r, 50));
    req.destroy();
    await handled;
    expect(buffers.freeCount).toBe(freeBefore + 1);
  });

  it('refuses to be written after it was sent, or used after it was released', async () => {
    const out = new JsonBuffer(new ReplyBuffers());
    out.write('{}');
    const url = await serve((res) => {
      out.send(res, 200);
      expect(() => out.write('x')).toThrow(/after it was sent/);
      expect(() => out.send(res, 200)).toThrow(/sent twice/);
    });
    expect((await get(url)).body.toString('utf8')).toBe('{}');
    const released = new JsonBuffer(new ReplyBuffers());
    released.release();
    expect(() => released.write('x')).toThrow(/released/);
    expect(() => released.toString()).toThrow(/released/);
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
        // before the socket's close: the cut connection's error, and 'finish' if it comes
        // (given back on 'finish', the buffer would show here)
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

  it('starts an answer in the smallest free buffer, and grows it into the largest', () => {
    const buffers = new ReplyBuffers();
    for (const kib of [4096, 64, 256]) buffers.give(Buffer.allocUnsafeSlow(kib * 1024));
    // a small answer and a large one at the same time: the small one leaves the 4 MiB buffer
    const small = new JsonBuffer(buffers);
    small.write('{"rooms":[]}');
    const large = new JsonBuffer(buffers);
    const big = `"${'x'.repeat(3 * 1024 * 1024)}"`;
    large.write(big);
    expect(buffers.allocated).toBe(0);
    expect(large.toString()).toBe(big);
    expect(small.toString()).toBe('{"rooms":[]}');
    // the 256 KiB one went to the large answer first, then back when it grew
    expect(buffers.freeCount).toBe(1);
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
