import { backoffDelay, sleep, type RetryOptions } from './backoff.js';
import { isMatrixError, MatrixError } from './errors.js';
import type { EventsResponse, StreamEvent } from './types.js';

/** Options of {@link MatrixClient.events}. */
export interface EventsOptions {
  /**
   * The token to stream from: `end` of `initialSync()`, or a token saved from
   * {@link EventStream.token}. Without it the stream starts at "now" (only later events).
   */
  from?: string;
  /** How long the server may hold each long-poll, in ms. Default 30 000. */
  timeout?: number;
  /**
   * Give up on a request that has not been answered this long after it was sent, and retry
   * it (a silently dropped connection). Default `timeout + 30 000`.
   */
  requestTimeoutMs?: number;
  /** Aborting ends the iteration cleanly: the `for await` loop just finishes. */
  signal?: AbortSignal;
  /** Backoff on network errors, 429 and 5xx. */
  retry?: RetryOptions;
  /** Yield batches with no events too (each long-poll that timed out). Default false. */
  yieldEmpty?: boolean;
  /** How many recent event ids to remember to drop an event the server repeats. Default 2000. */
  dedupeWindow?: number;
}

/** One answer of `GET /events`, as the stream yields it. */
export interface EventBatch {
  /** The events, in stream order, never one already yielded. */
  events: StreamEvent[];
  /** The token this batch started at (the `from` sent). */
  start: string | undefined;
  /** The token after this batch: persist it to resume from here. Also `stream.token`. */
  end: string;
}

/** Fetches one page of /events; the stream's only contact with HTTP. */
export type FetchEventsPage = (from: string | undefined, timeout: number, signal: AbortSignal) => Promise<EventsResponse>;

/**
 * An async iterator over the /events long-poll stream. It polls forever, each request from
 * the previous answer's `end`; it retries network errors, 429 (waiting at least
 * `retry_after_ms`) and 5xx with exponential backoff and jitter, and throws any other
 * MatrixError (401, 400 bad token, ...). It advances its token only after a successful
 * answer, so a failure never skips events; events whose id it has already yielded are dropped,
 * as the spec asks of clients. Aborting the signal ends the iteration without an error.
 */
export class EventStream implements AsyncIterableIterator<EventBatch> {
  #token: string | undefined;
  readonly #generator: AsyncGenerator<EventBatch, void, undefined>;

  constructor(fetchPage: FetchEventsPage, options: EventsOptions = {}) {
    this.#token = options.from;
    this.#generator = this.#run(fetchPage, options);
  }

  /**
   * The token to resume from: the `end` of the last answer received (updated before its
   * batch is yielded). Save it after handling a batch; `events({ from: token })` later
   * carries on with nothing lost or repeated. `undefined` until the first answer when the
   * stream was started without `from`.
   */
  get token(): string | undefined {
    return this.#token;
  }

  next(): Promise<IteratorResult<EventBatch, void>> {
    return this.#generator.next();
  }

  return(): Promise<IteratorResult<EventBatch, void>> {
    return this.#generator.return(undefined);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async *#run(fetchPage: FetchEventsPage, options: EventsOptions): AsyncGenerator<EventBatch, void, undefined> {
    const timeout = options.timeout ?? 30_000;
    const requestTimeoutMs = options.requestTimeoutMs ?? timeout + 30_000;
    const retry = options.retry ?? {};
    const maxAttempts = retry.maxAttempts ?? Number.POSITIVE_INFINITY;
    const signal = options.signal;
    const seen = new RecentIds(options.dedupeWindow ?? 2000);
    let attempt = 0;

    while (!signal?.aborted) {
      const from = this.#token;
      let page: EventsResponse;
      const deadline = new Deadline(requestTimeoutMs, signal);
      try {
        page = await fetchPage(from, timeout, deadline.signal);
      } catch (error) {
        if (signal?.aborted) return;
        if (!isRetryable(error)) throw error;
        attempt += 1;
        if (attempt > maxAttempts) throw error;
        const delayMs = retryDelay(error, attempt, retry);
        retry.onRetry?.({ attempt, delayMs, error });
        if (!(await sleep(delayMs, signal))) return;
        continue;
      } finally {
        deadline.clear();
      }
      attempt = 0;
      if (typeof page.end !== 'string') {
        throw new MatrixError(200, { errcode: 'M_UNKNOWN', error: 'the server answered /events without an `end` token' });
      }
      const events = (page.chunk ?? []).filter((event) => seen.add(event.event_id));
      this.#token = page.end;
      if (events.length > 0 || options.yieldEmpty === true) {
        yield { events, start: page.start ?? from, end: page.end };
      }
    }
  }
}

function isRetryable(error: unknown): boolean {
  if (isMatrixError(error)) return error.httpStatus === 429 || error.httpStatus >= 500;
  return true; // no response at all: connection refused or reset, DNS, our own deadline
}

function retryDelay(error: unknown, attempt: number, retry: RetryOptions): number {
  const backoff = backoffDelay(attempt, retry);
  if (isMatrixError(error) && error.retryAfterMs !== undefined) {
    // Honour the server's wait, plus up to 10 % jitter so limited clients do not stampede.
    return Math.ceil(error.retryAfterMs * (1 + Math.random() * 0.1));
  }
  return backoff;
}

/** Event ids yielded recently, so that a repeated event is dropped. */
class RecentIds {
  readonly #ids = new Set<string>();
  constructor(readonly size: number) {}
  /** Remembers `id`; false when it was already there. Events without an id always pass. */
  add(id: string | undefined): boolean {
    if (id === undefined) return true;
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.size) {
      const oldest = this.#ids.values().next();
      if (oldest.done !== true) this.#ids.delete(oldest.value);
    }
    return true;
  }
}

/** An AbortSignal that fires when the caller's does, or after `ms`. */
class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #outer: AbortSignal | undefined;
  readonly #onAbort = (): void => this.#controller.abort(this.#outer?.reason);

  constructor(ms: number, outer: AbortSignal | undefined) {
    this.#outer = outer;
    this.#timer = setTimeout(() => this.#controller.abort(new Error(`no answer from /events within ${ms} ms`)), ms);
    outer?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener('abort', this.#onAbort);
  }
}
