import type { Request, RequestHandler, Response } from 'express';
import type { Requester } from '../../domain/accounts/accounts.js';
import { writeAccessLine, type Logger } from '../../logging.js';

let counter = 0;

/** Paths that load balancers poll; neither logged nor counted as traffic. */
export const UNLOGGED_PATHS = new Set(['/health']);

/**
 * The client's address: the socket's peer, or with the listener's `x_forwarded` on, the
 * first address of X-Forwarded-For (Express's `trust proxy`, set in app.ts).
 */
export function clientAddress(req: Request): string {
  // req.ip walks the forwarding headers even when no proxy is trusted
  if (req.app.settings['trust proxy'] === false) return req.socket.remoteAddress ?? 'unknown';
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

interface EndCallbacks { called: boolean; readonly list: (((aborted: boolean) => void) | null)[] }
/**
 * On the response itself, not in a WeakMap keyed by it: V8's young-generation GC treats a
 * WeakMap's values as strong, and these callbacks hold their response, so every request
 * (its objects and buffers) outlived two minor GCs, was promoted, and died only in a full
 * GC. That made the young-generation pauses 5-40 ms instead of 1-2.
 */
const END_CALLBACKS = Symbol('axon.endCallbacks');
type WithEndCallbacks = Response & { [END_CALLBACKS]?: EndCallbacks };

/**
 * Calls `done` once, when the response is finished or the client went away. The callbacks
 * of one response share one pair of listeners and run in the order they were added.
 */
export function onResponseEnd(res: Response, done: (aborted: boolean) => void): void {
  const pending = (res as WithEndCallbacks)[END_CALLBACKS];
  if (pending && !pending.called) {
    const free = pending.list.indexOf(null);
    if (free >= 0) pending.list[free] = done;
    else pending.list.push(done);
    return;
  }
  // Room for the usual three (the access line, the metrics, the handler's disconnect) from
  // the start: an array grown by push reserves 17 slots, held as long as a long-poll waits.
  const callbacks: EndCallbacks = { called: false, list: [done, null, null] };
  (res as WithEndCallbacks)[END_CALLBACKS] = callbacks;
  const once = (): void => {
    if (callbacks.called) return;
    callbacks.called = true;
    const aborted = !res.writableFinished;
    for (const cb of callbacks.list) cb?.(aborted);
  };
  res.on('finish', once);
  res.on('close', once);
}

/**
 * The request's child logger (bound to its `request_id`), made when first asked for: most
 * requests never log but their access line. `logger` is the root logger, which is also
 * the answer outside a request.
 */
export function requestLogger(res: Response, logger: Logger): Logger {
  const locals = res.locals as { log?: Logger; requestId?: string };
  if (locals.log) return locals.log;
  if (locals.requestId === undefined) return logger;
  const log = logger.child({ request_id: locals.requestId });
  locals.log = log;
  return log;
}

/**
 * Gives each request an id (`GET-12`, as Synapse's logs do; its logger comes from
 * `requestLogger`), and logs one access line when it ends: method, path (never the query
 * string, which may hold an access token), status, duration, user, client address.
 *
 * Nothing here is an accessor or a function literal stored in an object: V8 allocates
 * those (accessor pairs, closures written into properties) in the old generation, where
 * they pointed at this request's young objects and kept all of them through every
 * young-generation GC, to be promoted and freed only by a full GC.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const requestId = `${req.method}-${++counter}`;
    res.locals.requestId = requestId;
    const started = process.hrtime.bigint();
    // Read now, while Express's parsed URL is cached: callHandler drops it (router.ts).
    const path = req.path;
    if (UNLOGGED_PATHS.has(path)) {
      next();
      return;
    }
    onResponseEnd(res, (aborted) => {
      const requester = res.locals.requester as Requester | undefined;
      writeAccessLine(logger, {
        request_id: requestId,
        method: req.method,
        path,
        status: res.statusCode,
        duration_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e3) / 1e3,
        user_id: requester?.userId,
        client: clientAddress(req),
        operation: res.locals.operationId as string | undefined,
        aborted,
      });
    });
    next();
  };
}
