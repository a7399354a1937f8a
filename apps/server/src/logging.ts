import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config/schema.js';

export type { Logger };

/** The request being handled, for log lines written through the root logger (domain code). */
export const requestContext = new AsyncLocalStorage<{ readonly requestId: string }>();

/**
 * The request loggers (children bound to a `request_id`) made by the request log: the
 * mixin knows without parsing their bindings (pino's `bindings()` is a JSON.parse) that
 * they already carry the id.
 */
export const requestLoggers = new WeakSet<object>();

/**
 * Keys that hold secrets wherever they appear (one level deep as well): a second line of
 * defence, since nothing logs bodies, query strings or headers in the first place.
 */
const SECRET_KEYS = [
  'password', 'new_password', 'access_token', 'accessToken', 'mac',
  'registration_shared_secret', 'macaroon_secret_key', 'form_secret', 'authorization', 'cookie',
];
const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), 'req.headers.authorization', 'req.query', 'req.url'];

/**
 * JSON lines on stdout (or `destination`). Every line written while a request is handled
 * carries its `request_id`: through the request's child logger, or, for code that logs
 * through the root logger, from `requestContext`.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { name: 'axon' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    mixin(obj: object, _level: number, logger: Logger): Record<string, unknown> {
      // pino merges into what this returns: a fresh object each time
      if ('request_id' in obj) return {};
      const current = requestContext.getStore();
      // the root logger's bindings are known: no parse of them
      if (!current || requestLoggers.has(logger) || (logger !== root && 'request_id' in logger.bindings())) return {};
      return { request_id: current.requestId };
    },
  };
  // stdout written asynchronously: a synchronous write per access line was a system call
  // on the event loop for every request. Lines queue while one write is in flight, and
  // pino flushes what is left when the process exits.
  const root: Logger = pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
  return root;
}
