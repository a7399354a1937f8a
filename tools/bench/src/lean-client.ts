import { connect, type Socket } from 'node:net';

export interface LeanReply {
  status: number;
  /** The body as text (the callers parse it only when they need it); '' when discarded. */
  text: string;
  /** The body's length in bytes. */
  bytes: number;
}

export interface RequestOptions {
  /**
   * Count the body's bytes and drop them, as wrk and autocannon do. Joining and decoding a
   * body of megabytes takes this client tens of milliseconds after its last byte arrives
   * (fresh memory for the joined copy and for the string), which timed requests would
   * otherwise add to the server's figure.
   */
  discardBody?: boolean;
}

/**
 * One keep-alive HTTP/1.1 connection with one request in flight at a time, for load
 * generation: requests are written as bytes and answers read by Content-Length, the way
 * wrk or autocannon drive a server. node:http's client spends more CPU per request than
 * the servers under test, and on a 2-core machine the load generator's CPU is taken from
 * the server's. Both Axon and the bare ceiling are driven by this same client.
 */
export class LeanConnection {
  private socket: Socket | null = null;
  /** Bytes of an answer whose head has not fully arrived yet. */
  private head: Buffer | null = null;
  /**
   * An answer whose head is read and whose body is still arriving: its pieces, joined once
   * when complete. Joining on every chunk (and searching the whole for the head's end)
   * copied a 10 MB initialSync body about 160 times, which put tens of milliseconds of this
   * client's own work into the server's figure, growing with the square of the body.
   */
  private body: { status: number; length: number; parts: Buffer[] | null; received: number } | null = null;
  private waiting: { resolve: (r: LeanReply) => void; reject: (e: Error) => void; discardBody: boolean } | null = null;

  constructor(private readonly host: string, private readonly port: number) {}

  static forUrl(baseUrl: string): LeanConnection {
    const u = new URL(baseUrl);
    return new LeanConnection(u.hostname, Number(u.port));
  }

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect(this.port, this.host, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.setNoDelay(true);
      s.once('error', reject);
      s.on('data', (chunk: Buffer) => this.onData(chunk));
      s.on('close', () => {
        if (this.socket === s) this.socket = null;
        this.fail(new Error('connection closed'));
      });
      s.on('error', (err) => this.fail(err));
    });
  }

  private fail(err: Error): void {
    const w = this.waiting;
    this.waiting = null;
    this.head = null;
    this.body = null;
    w?.reject(err);
  }

  private onData(chunk: Buffer): void {
    const body = this.body;
    if (body) {
      const before = body.received;
      body.received += chunk.length;
      if (!body.parts) {
        if (body.received < body.length) return;
        this.body = null;
        this.answered(body.status, '', body.length, chunk.subarray(body.length - before));
        return;
      }
      body.parts.push(chunk);
      if (body.received < body.length) return;
      this.body = null;
      const all = Buffer.concat(body.parts, body.received);
      this.answered(body.status, all.toString('utf8', 0, body.length), body.length, all.subarray(body.length));
      return;
    }
    // the usual answer: head and body in one chunk, read without copying
    const buf = this.head === null ? chunk : Buffer.concat([this.head, chunk]);
    const headEnd = buf.indexOf('\r\n\r\n');
    if (headEnd === -1) {
      this.head = buf;
      return;
    }
    this.head = null;
    const head = buf.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!m) {
      this.socket?.destroy();
      this.fail(new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`));
      return;
    }
    const length = Number(m[1]);
    const end = headEnd + 4 + length;
    const discard = this.waiting?.discardBody ?? false;
    if (buf.length >= end) {
      this.answered(status, discard ? '' : buf.toString('utf8', headEnd + 4, end), length, buf.subarray(end));
      return;
    }
    this.body = { status, length, parts: discard ? null : [buf.subarray(headEnd + 4)], received: buf.length - headEnd - 4 };
  }

  private answered(status: number, text: string, bytes: number, rest: Buffer): void {
    // nothing should follow (one request at a time); kept as the start of a next head
    if (rest.length > 0) this.head = rest;
    const w = this.waiting;
    this.waiting = null;
    w?.resolve({ status, text, bytes });
  }

  /** Opens the connection now (a request opens it otherwise). */
  async connect(): Promise<void> {
    this.socket ??= await this.open();
  }

  async request(method: string, path: string, body: string | undefined, token: string | undefined, options: RequestOptions = {}): Promise<LeanReply> {
    if (this.waiting) throw new Error('one request at a time per connection');
    const socket = this.socket ?? (this.socket = await this.open());
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n`;
    if (token) head += `Authorization: Bearer ${token}\r\n`;
    if (body !== undefined) head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    const reply = new Promise<LeanReply>((resolve, reject) => { this.waiting = { resolve, reject, discardBody: options.discardBody ?? false }; });
    socket.write(body === undefined ? `${head}\r\n` : `${head}\r\n${body}`);
    return reply;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}
