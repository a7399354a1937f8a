import { Agent, request } from 'node:http';
import type { PersistedEvent } from '../domain/events/types.js';
import type { ForwardedMessage } from '../domain/rooms/room-service.js';
import { MatrixError } from '../errors.js';
import type { Logger } from '../logging.js';
import { MAX_MESSAGES_PER_POST, MAX_POST_BYTES, SEND_MESSAGES_PATH, toWire, wellFormedResult, type SendMessagesResponse } from './persister-protocol.js';

/**
 * A POST is filled up to this many characters of messages: at most 3 bytes each in UTF-8,
 * within what the persister reads.
 */
const POST_CHARS_TARGET = MAX_POST_BYTES / 4;

interface Pending {
  readonly message: ForwardedMessage;
  readonly resolve: (event: PersistedEvent | undefined) => void;
  readonly reject: (err: MatrixError) => void;
}

export interface PersisterClientOptions {
  /** How long a POST's connection may stay silent before its messages are stored here instead. */
  readonly timeoutMs?: number;
  /** After a failed POST, messages are stored here for this long before the persister is tried again. */
  readonly retryAfterMs?: number;
  /** POSTs out at once; messages arriving while they all are wait for the next. */
  readonly maxInFlight?: number;
}

/**
 * Hands this process's room messages to the event persister (RoomService.forwardMessage).
 * The messages of one turn go in one POST, and at most `maxInFlight` POSTs are out: what
 * arrives while they all are goes in the next, so the persister gets this process's
 * messages in batches rather than one request each. (Four out at once did as well as
 * one on the bench, with larger commits at the persister: docs/benchmarks.md.)
 *
 * When the persister cannot be reached, answers wrongly or too slowly, the messages are
 * stored here (undefined back). That is safe even if the persister stored them after all:
 * every forwarded message has a txnId, and the second append finds the first's event.
 */
export class PersisterClient {
  private readonly url: URL;
  private readonly authorization: string;
  private readonly agent: Agent;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private readonly retryAfterMs: number;
  private pending: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private downUntil = 0;
  private closed = false;
  /** Messages the persister answered for, and messages left to this process. */
  readonly counts = { forwarded: 0, storedHere: 0 };

  constructor(url: string, secret: string, private readonly logger: Logger, options: PersisterClientOptions = {}) {
    this.url = new URL(SEND_MESSAGES_PATH, url);
    this.authorization = `Bearer ${secret}`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retryAfterMs = options.retryAfterMs ?? 1_000;
    this.maxInFlight = options.maxInFlight ?? 4;
    this.agent = new Agent({ keepAlive: true, maxSockets: this.maxInFlight });
  }

  readonly forward = (message: ForwardedMessage): Promise<PersistedEvent | undefined> => {
    if (this.closed || performance.now() < this.downUntil) {
      this.counts.storedHere += 1;
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
      // setImmediate: the messages of requests read in the same turn go in one POST
      if (!this.scheduled && this.inFlight < this.maxInFlight) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.postNext();
        });
      }
    });
  };

  private postNext(): void {
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) this.postOne();
  }

  private postOne(): void {
    // as many as fit one POST, by count and by size
    const wire: string[] = [];
    const batch: Pending[] = [];
    let chars = 0;
    while (this.pending.length > 0 && batch.length < MAX_MESSAGES_PER_POST) {
      const one = JSON.stringify(toWire(this.pending[0]!.message));
      if (one.length > POST_CHARS_TARGET) {
        // far over the event size limit: checked here, it gets its M_TOO_LARGE without a POST
        this.pending.shift()!.resolve(undefined);
        continue;
      }
      if (chars + one.length > POST_CHARS_TARGET) break;
      wire.push(one);
      batch.push(this.pending.shift()!);
      chars += one.length;
    }
    if (batch.length === 0) return;
    this.inFlight += 1;
    this.post(`{"messages":[${wire.join(',')}]}`, batch.length).then(
      (results) => {
        this.counts.forwarded += batch.length;
        batch.forEach((item, i) => {
          const r = results[i]!;
          if ('event' in r) item.resolve(r.event);
          else item.reject(new MatrixError(r.status, r.errcode, r.error, r.extra ?? {}));
        });
      },
      (err: unknown) => {
        if (!this.closed) {
          this.logger.warn({ err: (err as Error).message, persister: this.url.origin, messages: batch.length },
            `replication: event persister unreachable; storing messages here for ${this.retryAfterMs} ms`);
        }
        this.downUntil = performance.now() + this.retryAfterMs;
        this.counts.storedHere += batch.length;
        for (const item of batch) item.resolve(undefined);
        // what arrived meanwhile is stored here too, not sent after the failure
        const rest = this.pending;
        this.pending = [];
        this.counts.storedHere += rest.length;
        for (const item of rest) item.resolve(undefined);
      },
    ).catch((err: unknown) => {
      this.logger.error({ err }, 'replication: settling forwarded messages failed');
    }).finally(() => {
      this.inFlight -= 1;
      this.postNext();
    });
  }

  /** The persister's results for `count` messages; rejects unless each is well formed. */
  private post(body: string, count: number): Promise<SendMessagesResponse['results']> {
    return new Promise((resolve, reject) => {
      const req = request(this.url, {
        method: 'POST', agent: this.agent, timeout: this.timeoutMs,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: this.authorization },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            return;
          }
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            reject(new Error('the answer is not JSON'));
            return;
          }
          const results = (parsed as { results?: unknown } | null)?.results;
          if (!Array.isArray(results) || results.length !== count || !results.every(wellFormedResult)) {
            reject(new Error('the answer does not hold one well-formed result per message'));
            return;
          }
          resolve(results as SendMessagesResponse['results']);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** From now on messages are stored here; a POST still out is cut, its messages stored here too. */
  close(): void {
    this.closed = true;
    this.agent.destroy();
  }
}
