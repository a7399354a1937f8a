import type { Request, RequestHandler, Response } from 'express';
import type { Requester } from '../../domain/accounts/accounts.js';
import { requestContext, requestLoggers, type Logger } from '../../logging.js';

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

interface EndCallbacks { called: boolean; readonly list: ((aborted: boolean) => void)[] }
const endCallbacks = new WeakMap<Response, EndCallbacks>();

/**
 * Calls `done` once, when the response is finished or the client went away. The callbacks
 * of one response share one pair of listeners and run in the order they were added.
 */
export function onResponseEnd(res: Response, done: (aborted: boolean) => void): void {
  const pending = endCallbacks.get(res);
  if (pending && !pending.called) {
    pending.list.push(done);
    return;
  }
  const callbacks: EndCallbacks = { called: false, list: [done] };
  endCallbacks.set(res, callbacks);
  const once = (): void => {
    if (callbacks.called) return;
    callbacks.called = true;
    const aborted = !res.writableFinished;
    for (const cb of callbacks.list) cb(aborted);
  };
  res.on('finish', once);
  res.on('close', once);
}

/**
 * Gives each request an id (`GET-12`, as Synapse's logs do) and a child logger
 * (`res.locals.log`, made when first asked for: most requests never log but their access
 * line), runs the rest of the request in `requestContext`, and logs one access line when
 * it ends: method, path (never the query string, which may hold an access token), status,
 * duration, user, client address.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const requestId = `${req.method}-${++counter}`;
    let log: Logger | undefined;
    res.locals.requestId = requestId;
    Object.defineProperty(res.locals, 'log', {
      get(): Logger {
        if (!log) {
          log = logger.child({ request_id: requestId });
          requestLoggers.add(log);
        }
        return log;
      },
      enumerable: true,
    });
    const started = process.hrtime.bigint();
    onResponseEnd(res, (aborted) => {
      if (UNLOGGED_PATHS.has(req.path)) return;
      const requester = res.locals.requester as Requester | undefined;
      logger.info({
        request_id: requestId,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        duration_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e3) / 1e3,
        user_id: requester?.userId,
        client: clientAddress(req),
        operation: res.locals.operationId as string | undefined,
        ...(aborted ? { aborted: true } : {}),
      }, 'request');
    });
    requestContext.run({ requestId }, next);
  };
}
