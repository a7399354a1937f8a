/** Retry policy of the long-poll stream. All fields optional. */
export interface RetryOptions {
  /** Delay before the first retry, in ms (doubled each further attempt). Default 500. */
  initialDelayMs?: number;
  /** Upper bound of the exponential delay, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** Consecutive failures tolerated before the error is thrown. Default: unlimited for `events()`, 5 for `send()`. */
  maxAttempts?: number;
  /** Called before each wait, e.g. to log or show "reconnecting". */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  /** 1 for the first retry after a failure, reset after each success. */
  attempt: number;
  /** How long the stream waits before the next request. */
  delayMs: number;
  /** What went wrong: a MatrixError (429, 5xx) or the fetch error. */
  error: unknown;
}

/**
 * "Equal jitter" exponential backoff: half the exponential step plus a random half, so the
 * delay is never zero and clients that failed together spread out.
 */
export function backoffDelay(attempt: number, options: RetryOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const step = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Resolves after `ms`, or early with `false` when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(false); return; }
    const onAbort = (): void => { clearTimeout(timer); resolve(false); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(true); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
