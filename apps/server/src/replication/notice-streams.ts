import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * Replication notices over the replication listener (docs/scaling.md): a process that has
 * one streams its notices to every other process that asks, one JSON array of messages a
 * line, in place of a NOTIFY each. PostgreSQL 15 signals every listening backend in the
 * database for every NOTIFY, whatever its channel, and that was most of what three
 * processes cost against one (docs/benchmarks.md, sixteenth round).
 */
export const NOTICES_PATH = '/_axon/replication/v1/notices';

/** A bus's origin id (PgNotifyBus): 16 hex digits. */
const ORIGIN = /^[0-9a-f]{16}$/;
export const isOrigin = (s: unknown): s is string => typeof s === 'string' && ORIGIN.test(s);
/** The publisher's origin, on its answer: the subscriber checks it is the process it asked for. */
const ORIGIN_HEADER = 'x-axon-origin';

/**
 * A subscriber whose connection holds this many bytes it has not taken is cut: it is
 * stalled, and reads what it missed from the database once it is back.
 */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

/** How long a subscription may take to be answered. */
const ANSWER_TIMEOUT_MS = 5_000;
/** Waits before subscribing again after a failure: doubled each time, up to the most. */
const RETRY_FIRST_MS = 250;
const RETRY_MOST_MS = 30_000;

/** What the replication listener hands a subscription to (PgNotifyBus). */
export interface NoticeSource {
  /**
   * Streams this process's notices to `from` through `res`, or answers false when this is
   * not process `to` (a stale address: the process there now is another one).
   */
  acceptSubscriber(from: string, to: string, res: ServerResponse): boolean;
  /** Ends every stream, so that the listener can close. */
  endSubscribers(): void;
}

/** The publishing side: the processes subscribed to this one's notices. */
export class NoticeSubscribers {
  private readonly streams = new Map<string, ServerResponse>();

  /** `changed` hears of each subscriber that comes or goes. */
  constructor(private readonly changed: (origin: string, subscribed: boolean) => void) {}

  get size(): number {
    return this.streams.size;
  }

  has(origin: string): boolean {
    return this.streams.has(origin);
  }

  /** `publisher`: this process's origin, sent back for the subscriber to check. */
  add(origin: string, res: ServerResponse, publisher: string): void {
    const previous = this.streams.get(origin);
    this.streams.set(origin, res);
    // the process subscribed again: what the old connection still holds is stale
    previous?.destroy();
    res.on('close', () => {
      if (this.streams.get(origin) !== res) return;
      this.streams.delete(origin);
      this.changed(origin, false);
    });
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', [ORIGIN_HEADER]: publisher });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.socket?.setKeepAlive(true, 10_000);
    this.changed(origin, true);
  }

  /** Writes one line to every subscriber; one too far behind is cut (it catches up when back). */
  send(line: string): void {
    for (const res of this.streams.values()) {
      if (res.writableLength > MAX_UNREAD_BYTES) res.destroy();
      else res.write(line);
    }
  }

  endAll(): void {
    for (const res of [...this.streams.values()]) res.end();
  }
}

export interface SubscriptionOptions {
  /** The publisher's replication listener, e.g. http://10.0.0.2:9093. */
  readonly url: string;
  /** This process's origin, and the publisher's. */
  readonly from: string;
  readonly to: string;
  readonly secret: string;
  /** The stream is open: what was published while it was not is missing. */
  readonly onUp: () => void;
  /** One line's messages, parsed (an array; anything else is dropped). */
  readonly onMessages: (messages: readonly unknown[]) => void;
  /** The stream failed or ended (`wasUp`: it had been open); it is opened again after a wait. */
  readonly onDown: (reason: string, wasUp: boolean) => void;
  /** The process at `url` is not `to` (it answered 409): `to` is gone from there. Not retried. */
  readonly onGone: () => void;
}

/** The subscribing side: one process's stream of notices, opened again whenever it fails. */
export class NoticeSubscription {
  private req: ClientRequest | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryMs = RETRY_FIRST_MS;
  private closed = false;
  /** Whether the stream is open now. */
  up = false;

  constructor(readonly options: SubscriptionOptions) {}

  start(): void {
    if (this.closed) return;
    const target = new URL(NOTICES_PATH, this.options.url);
    target.searchParams.set('from', this.options.from);
    target.searchParams.set('to', this.options.to);
    let failed = false;
    const fail = (reason: string): void => {
      if (failed) return;
      failed = true;
      this.req = null;
      const wasUp = this.up;
      this.up = false;
      if (this.closed) return;
      if (wasUp) this.retryMs = RETRY_FIRST_MS;
      this.options.onDown(reason, wasUp);
      this.retryTimer = setTimeout(() => this.start(), this.retryMs);
      this.retryTimer.unref?.();
      this.retryMs = Math.min(RETRY_MOST_MS, this.retryMs * 2);
    };
    const req = request(target, { method: 'GET', agent: false, headers: { Authorization: `Bearer ${this.options.secret}` } });
    this.req = req;
    req.setTimeout(ANSWER_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)));
    req.on('socket', (socket) => {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
    });
    req.on('error', (err) => fail(err.message));
    req.on('response', (res: IncomingMessage) => {
      // a 200 from something that is not the process asked for (an address that reaches
      // another service) counts as the process's 409
      const wrong = res.statusCode === 409 || (res.statusCode === 200 && res.headers[ORIGIN_HEADER] !== this.options.to);
      if (res.statusCode !== 200 || wrong) {
        res.resume();
        if (wrong) {
          failed = true;
          this.req = null;
          req.destroy();
          if (!this.closed) this.options.onGone();
          return;
        }
        fail(`HTTP ${res.statusCode}`);
        req.destroy();
        return;
      }
      // the stream is silent for as long as the publisher has nothing to say
      req.setTimeout(0);
      this.up = true;
      this.options.onUp();
      res.setEncoding('utf8');
      let buffered = '';
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl = buffered.indexOf('\n');
        if (nl < 0) return;
        let start = 0;
        while (nl >= 0) {
          const line = buffered.slice(start, nl);
          start = nl + 1;
          nl = buffered.indexOf('\n', start);
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch {
            continue;
          }
          if (Array.isArray(parsed) && !this.closed) this.options.onMessages(parsed);
        }
        buffered = buffered.slice(start);
      });
      res.on('error', (err) => fail(err.message));
      res.on('close', () => fail('the stream ended'));
    });
    req.end();
  }

  close(): void {
    this.closed = true;
    this.up = false;
    clearTimeout(this.retryTimer);
    this.req?.destroy();
    this.req = null;
  }
}
