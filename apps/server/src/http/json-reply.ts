import type { ServerResponse } from 'node:http';
import type { JsonSink } from '../domain/events/format.js';

/** A new writer's first buffer when the pool has none. */
const FIRST_BYTES = 64 * 1024;

/**
 * Reused buffers for answers written as they are built (`JsonBuffer`).
 *
 * Fresh memory costs a page fault per 4 KiB the first time it is touched: on the virtual
 * machines servers run on, about 16 ms for a 4.4 MB answer, as long as building it took.
 * A buffer comes back when its response closes: a tick after 'finish' (every byte went to
 * the kernel), or once the connection's socket has closed. A socket that errors emits no
 * 'finish', only 'close'; a response still queued behind another on a connection that
 * dies gets neither, and its buffer is left to the garbage collector.
 */
export class ReplyBuffers {
  private readonly free: Buffer[] = [];
  private freeBytes = 0;
  /** Buffers allocated so far (tests read it). */
  allocated = 0;

  constructor(
    /** At most this many bytes are kept while no answer uses them. */
    private readonly keepBytes = 64 * 1024 * 1024,
  ) {}

  /**
   * A free buffer that holds `bytes`, or a new one: the smallest that fits for a new answer
   * (whose size is unknown, and most are small), the largest for one that outgrew its
   * buffer (one copy, not one per doubling).
   */
  take(bytes: number, fit: 'smallest' | 'largest' = 'largest'): Buffer {
    // sorted largest first
    let i = -1;
    if (fit === 'largest') {
      if ((this.free[0]?.length ?? 0) >= bytes) i = 0;
    } else {
      for (let j = this.free.length - 1; j >= 0; j--) {
        if (this.free[j]!.length >= bytes) {
          i = j;
          break;
        }
      }
    }
    if (i !== -1) {
      const [b] = this.free.splice(i, 1);
      this.freeBytes -= b!.length;
      return b!;
    }
    this.allocated++;
    return Buffer.allocUnsafeSlow(Math.ceil(bytes / 65536) * 65536);
  }

  give(buffer: Buffer): void {
    if (buffer.length > this.keepBytes) return;
    this.free.push(buffer);
    this.freeBytes += buffer.length;
    this.free.sort((a, b) => b.length - a.length);
    while (this.freeBytes > this.keepBytes) this.freeBytes -= this.free.pop()!.length;
  }

  get freeCount(): number {
    return this.free.length;
  }
}

const shared = new ReplyBuffers();

/**
 * A JSON answer encoded as it is built, into a reused buffer.
 *
 * An answer of megabytes built as one string (a rope of each room's text) is flattened
 * into a fresh block before it is encoded, and every piece of it stays alive until then,
 * so each young-generation collection meanwhile copies it all again. Written room by room,
 * each room's text dies young.
 */
export class JsonBuffer implements JsonSink {
  private buffer: Buffer;
  private at = 0;
  private sent = false;
  private released = false;

  constructor(private readonly buffers: ReplyBuffers = shared) {
    this.buffer = buffers.take(FIRST_BYTES, 'smallest');
  }

  write(text: string): void {
    if (this.sent || this.released) throw new Error('JsonBuffer written after it was sent or released');
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: count exactly only when it may not fit
    const room = this.buffer.length - this.at;
    if (text.length * 3 > room) {
      const bytes = Buffer.byteLength(text);
      if (bytes > room) this.grow(this.at + bytes);
    }
    this.at += this.buffer.write(text, this.at, 'utf8');
  }

  private grow(atLeast: number): void {
    const next = this.buffers.take(Math.max(atLeast, this.buffer.length * 2));
    this.buffer.copy(next, 0, 0, this.at);
    this.buffers.give(this.buffer);
    this.buffer = next;
  }

  get byteLength(): number {
    return this.at;
  }

  toString(): string {
    if (this.released) throw new Error('JsonBuffer read after it was released');
    return this.buffer.toString('utf8', 0, this.at);
  }

  /** Sends the bytes written; the buffer returns to the pool once the response closes. */
  send(res: ServerResponse, status: number): void {
    if (this.sent || this.released) throw new Error('JsonBuffer sent twice, or after it was released');
    this.sent = true;
    // the client left while the answer was built: nothing will be written, and no 'close' comes
    if (res.destroyed) {
      this.release();
      return;
    }
    res.once('close', () => this.release());
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', this.at);
    res.end(this.buffer.subarray(0, this.at));
  }

  /** Gives the buffer back; only when no socket holds it (not sent, or sent and closed). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.buffers.give(this.buffer);
  }
}

/**
 * What `res.status(s).json(body)` writes (same headers), without Express's send path: no
 * ETag or freshness checks apply to these answers. Encoded once, off the JS heap: with a
 * string, node:http counts its length over a flattened copy and prepends the header block
 * to it, two more copies for the young-generation GC.
 */
export function sendJson(res: ServerResponse, status: number, json: string | JsonBuffer): void {
  if (json instanceof JsonBuffer) {
    json.send(res, status);
    return;
  }
  const body = Buffer.from(json);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
