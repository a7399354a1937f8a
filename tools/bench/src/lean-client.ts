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
  private buffer: Buffer = Buffer.alloc(0);
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
    this.buffer = Buffer.alloc(0);
    w?.reject(err);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const headEnd = this.buffer.indexOf('\r\n\r\n');
    if (headEnd === -1) return;
    const head = this.buffer.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!m) {
      this.socket?.destroy();
      this.fail(new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`));
      return;
    }
    const end = headEnd + 4 + Number(m[1]);
    if (this.buffer.length < end) return;
    const text = this.buffer.toString('utf8', headEnd + 4, end);
    this.buffer = this.buffer.subarray(end);
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
