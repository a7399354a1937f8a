import { createHmac, timingSafeEqual } from 'node:crypto';
import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { REPLICATION_URL_PATTERN } from '../config/schema.js';

/**
 * Replication notices over the replication listener (docs/scaling.md): a process that has
 * one streams its notices to every other process that asks, one JSON array of messages a
 * line, in place of a NOTIFY each. PostgreSQL 15 signals every listening backend in the
 * database for every NOTIFY, whatever its channel, and that was most of what three
 * processes cost against one (docs/benchmarks.md, sixteenth round).
 *
 * Addresses come from hellos on the database's NOTIFY channel, which any role allowed to
 * connect to the database can send on. So the secret never goes on the wire: a
 * subscription carries an HMAC of who asks whom and when, and the answer one of the same
 * with another label, so that neither side believes a party that does not hold the
 * secret (docs/security.md).
 */
export const NOTICES_PATH = '/_axon/replication/v1/notices';

/** A bus's origin id (PgNotifyBus): 16 hex digits. */
const ORIGIN = /^[0-9a-f]{16}$/;
export const isOrigin = (s: unknown): s is string => typeof s === 'string' && ORIGIN.test(s);
/** What a hello may name as its stream: what replication_url may be. */
const STREAM_URL = new RegExp(REPLICATION_URL_PATTERN);
export const isStreamUrl = (s: unknown): s is string => typeof s === 'string' && s.length <= 300 && STREAM_URL.test(s);

/** The subscription's scheme in Authorization, and the answer's proof header. */
export const NOTICES_AUTH_SCHEME = 'Axon-Notices';
const PROOF_HEADER = 'x-axon-notices-proof';
/** How often the publisher writes at least a heartbeat, in its answer: the subscriber's silence limit is three of them. */
const HEARTBEAT_HEADER = 'x-axon-notices-heartbeat-ms';
/** How far a subscription's timestamp may be from the publisher's clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const mac = (secret: string, label: string, from: string, to: string, ts: string): string =>
  createHmac('sha256', secret).update(`${label} ${from} ${to} ${ts}`).digest('hex');
/** What a subscriber sends for (from, to, ts). */
export const subscribeMac = (secret: string, from: string, to: string, ts: string): string => mac(secret, 'axon-notices-subscribe', from, to, ts);
/** What the publisher answers for the same. */
export const answerMac = (secret: string, from: string, to: string, ts: string): string => mac(secret, 'axon-notices-answer', from, to, ts);
export function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A subscriber whose connection holds this many bytes it has not taken is cut: it is
 * stalled, and reads what it missed from the database once it is back.
 */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;
/** A line this long without its end is not a notice: the stream is cut. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** How long a subscription may take to be answered. */
const ANSWER_TIMEOUT_MS = 5_000;
/** Waits before subscribing again after a failure: doubled each time, up to the most. */
const RETRY_FIRST_MS = 250;
const RETRY_MOST_MS = 30_000;

/** What the replication listener hands a subscription to (PgNotifyBus). */
export interface NoticeSource {
  /**
   * Streams this process's notices to `from` through `res`, with `proof` for it to check,
   * or answers false when this is not process `to` (a stale address: the process there
   * now is another one).
   */
  acceptSubscriber(from: string, to: string, res: ServerResponse, proof: string): boolean;
  /** Says bye and ends every stream, so that the listener can close. */
  endSubscribers(): void;
}

interface Stream {
  readonly res: ServerResponse;
  readonly since: number;
}

/** The publishing side: the processes subscribed to this one's notices. */
export class NoticeSubscribers {
  private readonly streams = new Map<string, Stream>();

  get size(): number {
    return this.streams.size;
  }

  has(origin: string): boolean {
    return this.streams.has(origin);
  }

  /** When `origin`'s stream was opened (performance.now()), if it is. */
  since(origin: string): number | undefined {
    return this.streams.get(origin)?.since;
  }

  add(origin: string, res: ServerResponse, proof: string, heartbeatMs: number): void {
    const previous = this.streams.get(origin);
    this.streams.set(origin, { res, since: performance.now() });
    // the process subscribed again: what the old connection still holds is stale
    previous?.res.destroy();
    // a write racing the connection's end must not become an uncaught 'error'
    res.on('error', () => {});
    res.on('close', () => this.drop(origin, res));
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', [PROOF_HEADER]: proof, [HEARTBEAT_HEADER]: String(heartbeatMs) });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.socket?.setKeepAlive(true, 10_000);
  }

  private drop(origin: string, res: ServerResponse): void {
    if (this.streams.get(origin)?.res === res) this.streams.delete(origin);
  }

  /** Writes one line to every subscriber; one too far behind is cut (it catches up when back). */
  send(line: string): void {
    for (const [origin, { res }] of this.streams) {
      if (res.writableEnded || res.destroyed) this.drop(origin, res);
      else if (res.writableLength > MAX_UNREAD_BYTES) {
        this.drop(origin, res);
        res.destroy();
      } else res.write(line);
    }
  }

  /** Cuts `origin`'s stream (it no longer reads it, by its own account). */
  cut(origin: string): void {
    const stream = this.streams.get(origin);
    if (!stream) return;
    this.drop(origin, stream.res);
    stream.res.destroy();
  }

  /** Ends every stream; from now on none counts as subscribed. */
  endAll(): void {
    const all = [...this.streams];
    this.streams.clear();
    for (const [, { res }] of all) res.end();
  }
}

export interface SubscriptionOptions {
  /** The publisher's replication listener, e.g. http://10.0.0.2:9093 (isStreamUrl). */
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
  /**
   * The process at `url` is not `to`: it answered 409, or its answer does not prove the
   * secret. Not retried.
   */
  readonly onGone: (reason: string) => void;
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
    const { from, to, secret } = this.options;
    const ts = String(Date.now());
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
    const gone = (req: ClientRequest, reason: string): void => {
      failed = true;
      this.req = null;
      this.up = false;
      req.destroy();
      if (!this.closed) this.options.onGone(reason);
    };
    let req: ClientRequest;
    try {
      const target = new URL(NOTICES_PATH, this.options.url);
      target.search = new URLSearchParams({ from, to, ts }).toString();
      req = request(target, { method: 'GET', agent: false, headers: { Authorization: `${NOTICES_AUTH_SCHEME} ${subscribeMac(secret, from, to, ts)}` } });
    } catch (err) {
      // an address node:http cannot use (isStreamUrl lets few through): nothing to retry
      this.closed = true;
      this.options.onGone((err as Error).message);
      return;
    }
    this.req = req;
    const answerTimeout = (): void => { req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)); };
    req.setTimeout(ANSWER_TIMEOUT_MS, answerTimeout);
    req.on('socket', (socket) => {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
    });
    req.on('error', (err) => fail(err.message));
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode === 409) {
        res.resume();
        gone(req, 'another process answers there');
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        fail(`HTTP ${res.statusCode}`);
        req.destroy();
        return;
      }
      const proof = res.headers[PROOF_HEADER];
      if (typeof proof !== 'string' || !sameMac(proof, answerMac(secret, from, to, ts))) {
        res.resume();
        gone(req, 'the answer does not prove the secret');
        return;
      }
      // silent only for as long as heartbeats allow (a link broken without a word)
      // The publisher writes a line at least this often (a heartbeat when it has nothing
      // to say); a stream silent for three times as long is taken for broken.
      const beat = Number(res.headers[HEARTBEAT_HEADER]);
      const silence = 3 * (Number.isFinite(beat) ? Math.min(Math.max(beat, 50), 60_000) : 10_000);
      req.off('timeout', answerTimeout);
      req.setTimeout(silence, () => req.destroy(new Error(`the stream was silent for ${silence} ms`)));
      this.up = true;
      this.options.onUp();
      res.setEncoding('utf8');
      let buffered = '';
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl = buffered.indexOf('\n');
        if (nl < 0) {
          if (buffered.length > MAX_LINE_BYTES) req.destroy(new Error('a line too long'));
          return;
        }
        let start = 0;
        while (nl >= 0) {
          const line = buffered.slice(start, nl);
          start = nl + 1;
          nl = buffered.indexOf('\n', start);
          // an empty line is a heartbeat
          if (line === '' || this.closed) continue;
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch {
            continue;
          }
          if (Array.isArray(parsed)) this.options.onMessages(parsed);
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
