import type { components } from '@axon/contract';

/** The JSON body of a Matrix error response, as the spec defines it. */
export type MatrixErrorBody = components['schemas']['error'];

/**
 * The one error the helpers throw: the server answered with a status outside 2xx.
 *
 * `errcode` is the Matrix error code (`M_FORBIDDEN`, `M_LIMIT_EXCEEDED`, ...); a response
 * without a Matrix error body (a proxy's HTML page, an empty 502) gets `M_UNKNOWN` and keeps
 * what it had in `body`. Failures without any response (the network is down, the request was
 * aborted) are not MatrixErrors: they reject with the `fetch` implementation's own error.
 */
export class MatrixError extends Error {
  override readonly name = 'MatrixError';
  /** The Matrix error code, e.g. `M_NOT_FOUND`; `M_UNKNOWN` when the body had none. */
  readonly errcode: string;
  /** The HTTP status of the response. */
  readonly httpStatus: number;
  /** For `M_LIMIT_EXCEEDED` (and any 429 that gives it): how long to wait before retrying. */
  readonly retryAfterMs: number | undefined;
  /** The parsed response body (an object for JSON bodies, the text otherwise). */
  readonly body: unknown;

  constructor(httpStatus: number, body: unknown) {
    const parsed = asErrorBody(body);
    const errcode = parsed?.errcode ?? 'M_UNKNOWN';
    const text = parsed?.error ?? (typeof body === 'string' && body.length > 0 ? body.slice(0, 200) : `HTTP ${httpStatus}`);
    super(`${errcode}: ${text} (HTTP ${httpStatus})`);
    this.errcode = errcode;
    this.httpStatus = httpStatus;
    this.retryAfterMs = typeof parsed?.retry_after_ms === 'number' ? parsed.retry_after_ms : undefined;
    this.body = body;
  }

  /** True for 429 / `M_LIMIT_EXCEEDED`. */
  isRateLimitError(): boolean {
    return this.httpStatus === 429 || this.errcode === 'M_LIMIT_EXCEEDED';
  }
}

/** Type guard that also works across bundles (checks the shape, not only the prototype). */
export function isMatrixError(value: unknown): value is MatrixError {
  if (value instanceof MatrixError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v['name'] === 'MatrixError' && typeof v['errcode'] === 'string' && typeof v['httpStatus'] === 'number';
}

function asErrorBody(body: unknown): Partial<MatrixErrorBody> | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  const out: Partial<MatrixErrorBody> = {};
  if (typeof b['errcode'] === 'string') out.errcode = b['errcode'];
  if (typeof b['error'] === 'string') out.error = b['error'];
  if (typeof b['retry_after_ms'] === 'number') out.retry_after_ms = b['retry_after_ms'];
  return out;
}
