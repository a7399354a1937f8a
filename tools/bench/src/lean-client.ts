import { connect, type Socket } from 'node:net';

export interface LeanReply {
  status: number;
  /** The body as text (the callers parse it only when they need it). */
  text: string;
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
  /**
   * What has arrived of the answer, in the chunks it came in: joined once, when the answer
   * is complete. Joining on every chunk (and searching the whole for the head's end) copied
   * a 10 MB initialSync body about 160 times, which put tens of milliseconds of this
   * client's own work into the server's figure, growing with the square of the body.
   */
  private chunks: Buffer[] = [];
  private received = 0;
  /** Once the head is read: where the body starts and ends, and the status. */
  private answer: { status: number; bodyStart: number; end: number } | null = null;
  private waiting: { resolve: (r: LeanReply) => void; reject: (e: Error) => void } | null = null;

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
    this.chunks = [];
    this.received = 0;
    this.answer = null;
    w?.reject(err);
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (!this.answer) {
      // the head comes in the first chunk or two: join only until it is found
      const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
      this.chunks = [joined];
      const headEnd = joined.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const head = joined.toString('latin1', 0, headEnd);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!m) {
        this.socket?.destroy();
        this.fail(new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`));
        return;
      }
      this.answer = { status: Number(head.slice(9, 12)), bodyStart: headEnd + 4, end: headEnd + 4 + Number(m[1]) };
    }
    const { status, bodyStart, end } = this.answer;
    if (this.received < end) return;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
    const text = all.toString('utf8', bodyStart, end);
    const rest = all.subarray(end);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.received = rest.length;
    this.answer = null;
    const w = this.waiting;
    this.waiting = null;
    w?.resolve({ status, text });
  }

  /** Opens the connection now (a request opens it otherwise). */
  async connect(): Promise<void> {
    this.socket ??= await this.open();
  }

  async request(method: string, path: string, body: string | undefined, token: string | undefined): Promise<LeanReply> {
    if (this.waiting) throw new Error('one request at a time per connection');
    const socket = this.socket ?? (this.socket = await this.open());
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n`;
    if (token) head += `Authorization: Bearer ${token}\r\n`;
    if (body !== undefined) head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    const reply = new Promise<LeanReply>((resolve, reject) => { this.waiting = { resolve, reject }; });
    socket.write(body === undefined ? `${head}\r\n` : `${head}\r\n${body}`);
    return reply;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}
