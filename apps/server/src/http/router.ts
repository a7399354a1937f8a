import { operationTable, type OperationId, type OperationInfo, type QueryValue } from '@axon/contract';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logging.js';
import { errors } from '../errors.js';
import type { Requester } from '../domain/accounts/accounts.js';
import { parseSize } from '../config/size.js';
import type { AppContext } from './context.js';
import type { Handler, HandlerContext, HandlerMap } from './handler.js';
import { authenticate } from './middleware/auth.js';
import { onResponseEnd, requestLogger } from './middleware/request-log.js';
import { rateLimitFor } from './middleware/rate-limit.js';
import { jsonBody, rawBody } from './middleware/body.js';
import { RawBody } from './raw-body.js';
import { validateBody, validateQuery } from './middleware/validate-request.js';
import { NOT_YET_IMPLEMENTED } from './not-yet-implemented.js';
import { RawJson } from './raw-json.js';
import { sendJson } from './json-reply.js';
import { RouteTable } from './route-table.js';

/** `/rooms/{roomId}/join` -> `/rooms/:roomId/join`. */
export function expressPath(template: string): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ':$1');
}

/** The operations this build serves: the whole table minus NOT_YET_IMPLEMENTED. */
export function servedOperations(): OperationInfo[] {
  const pending = new Set<string>(NOT_YET_IMPLEMENTED);
  return operationTable.filter((op) => !pending.has(op.operationId));
}

/** Fails at start if an operation has no handler, or a handler names no served operation. */
export function assertHandlersComplete(handlers: HandlerMap): void {
  const served = servedOperations().map((op) => op.operationId);
  const missing = served.filter((id) => !(id in handlers));
  const extra = Object.keys(handlers).filter((id) => !served.includes(id as OperationId));
  if (missing.length || extra.length) {
    throw new Error(`route handlers out of step with spec/: missing ${missing.join(', ') || 'none'}; not served ${extra.join(', ') || 'none'}`);
  }
}

/** JSON bodies unless the spec says the operation consumes something else (media upload). */
function consumesJson(op: OperationInfo): boolean {
  return op.consumes.length === 0 || op.consumes.some((c) => c === 'application/json' || c.endsWith('+json'));
}

/**
 * What a handler gets. A class rather than an object literal with getters: the literal
 * built its accessors and closures afresh for every request (5 KB of garbage a send).
 */
class RequestContext implements HandlerContext<OperationId> {
  readonly requester: () => Requester;
  readonly whenDisconnected: (listener: { handleEvent(): void }) => () => void;
  private disconnectListener: { handleEvent(): void } | undefined;
  private gone = false;

  constructor(
    readonly operationId: OperationId,
    readonly body: never,
    readonly query: Record<string, QueryValue>,
    readonly params: Record<string, string>,
    readonly headers: HandlerContext<OperationId>['headers'],
    readonly app: AppContext,
    private readonly res: Response,
  ) {
    // Own functions, since handlers destructure them. Built as local constants and then
    // stored: V8 allocates a function literal written straight into a property in the old
    // generation (it expects `X.prototype.f = function`), and such a closure would keep
    // this request's objects alive through every young-generation GC until a full one.
    const requester = (): Requester => {
      const r = res.locals.requester as Requester | undefined;
      if (!r) throw errors.missingToken();
      return r;
    };
    const whenDisconnected = (listener: { handleEvent(): void }): (() => void) => {
      if (this.gone) {
        listener.handleEvent();
        return () => {};
      }
      this.disconnectListener = listener;
      return () => { if (this.disconnectListener === listener) this.disconnectListener = undefined; };
    };
    this.requester = requester;
    this.whenDisconnected = whenDisconnected;
  }

  /** The request's child logger, made only if the handler logs. */
  get log(): Logger {
    return requestLogger(this.res, this.app.logger);
  }

  /** The client went away before the answer was written. */
  disconnect(): void {
    this.gone = true;
    const listener = this.disconnectListener;
    this.disconnectListener = undefined;
    listener?.handleEvent();
  }
}

/**
 * The route's last step. It returns nothing and sends a failure straight to the error
 * handler (the app's own, which never calls next), so that nothing of Express's stays
 * reachable while the handler waits: a promise it returned would hold composeChain's
 * `next`, and through it Express's whole chain for the request (the router's closures,
 * its final handler). Express's router keeps its `next` in `req.next` as well; nothing
 * here uses it, so it is dropped. And it is not an async function: a suspended one is
 * kept whole, every local with it. For a long-poll that waits for minutes, the two were
 * about 1.4 KiB of heap per waiting poll (docs/benchmarks.md, sixteenth round). For the
 * same reason it drops parseurl's cache of the URL (`req._parsedUrl`, a Url and three
 * strings): routing is done, and the access line took its path at the start; a later
 * `req.path` parses again.
 */
export function callHandler(op: OperationInfo, handler: Handler<OperationId>, app: AppContext, fail: ErrorRequestHandler): RequestHandler {
  const operationId = op.operationId as OperationId;
  const noNext = (): void => {};
  return (req, res) => {
    req.next = undefined;
    (req as { _parsedUrl?: unknown })._parsedUrl = undefined;
    const failed = (err: unknown): void => {
      try {
        fail(err, req, res, noNext);
      } catch {
        // not even an error could be written: end the exchange rather than leave it open
        res.destroy();
      }
    };
    let pending: Promise<Reply>;
    try {
      res.locals.handlerStarted = true;
      const ctx = new RequestContext(operationId, res.locals.body as never, (res.locals.query ?? {}) as Record<string, QueryValue>,
        req.params as Record<string, string>, req.headers, app, res);
      // A close before the answer was written is a disconnect; finishing is the normal end.
      onResponseEnd(res, (aborted) => { if (aborted) ctx.disconnect(); });
      pending = handler(ctx);
    } catch (err) {
      failed(err);
      return;
    }
    pending.then((reply) => {
      try {
        writeReply(res, reply, app);
      } catch (err) {
        failed(err);
      }
    }, failed);
  };
}

type Reply = Awaited<ReturnType<Handler<OperationId>>>;

function writeReply(res: Response, reply: Reply, app: AppContext): void {
  if (reply.body instanceof RawBody) {
    // setHeader, not res.type(): Express would append a charset to text types.
    res.status(reply.status).set(reply.body.headers).setHeader('Content-Type', reply.body.contentType);
    res.send(reply.body.bytes);
    return;
  }
  const validating = app.config.testing.validate_responses;
  if (reply.body instanceof RawJson) {
    // test mode parses it, so that response validation sees the body
    if (validating) res.status(reply.status).json(JSON.parse(reply.body.takeText()));
    else sendJson(res, reply.status, reply.body.json);
    return;
  }
  // test mode goes through res.json, which response validation wraps
  if (validating) res.status(reply.status).json(reply.body);
  else sendJson(res, reply.status, JSON.stringify(reply.body) ?? '');
}

/**
 * Middleware as one Express handler, run in order the way an Express
 * route runs its layers (a throw or a rejected promise is next(err); next with an error
 * skips the rest), without a route layer and dispatch step per function.
 */
export function composeChain(chain: readonly RequestHandler[]): RequestHandler {
  return (req, res, done) => {
    let i = 0;
    const next = (err?: unknown): void => {
      if (err) {
        done(err);
        return;
      }
      const fn = chain[i++];
      if (!fn) {
        done();
        return;
      }
      try {
        const ret = fn(req, res, next) as unknown;
        if (ret !== null && typeof ret === 'object' && typeof (ret as { then?: unknown }).then === 'function') {
          (ret as Promise<unknown>).then(null, (error: unknown) => { next(error || new Error('Rejected promise')); });
        }
      } catch (error) {
        next(error);
      }
    };
    next();
  };
}

/** The Matrix routes: a request handler that also lists what it serves (for the routing test). */
export type MatrixRouter = RequestHandler & { routes: readonly { method: string; template: string }[] };

/**
 * Builds the Matrix routes from the contract's operation table: spec/ decides what is
 * served. `fail` is the app's error handler, which a route's last step calls itself (callHandler).
 * `stubs` (tests only) may also serve operations that are not implemented yet.
 * Matching is route-table.ts's, in place of an Express route per operation: Express tried
 * each operation's layers in turn with a regular expression, and that showed in profiles.
 */
export function buildMatrixRouter(app: AppContext, handlers: HandlerMap, fail: ErrorRequestHandler, stubs: HandlerMap = {}): MatrixRouter {
  assertHandlersComplete(handlers);
  const all: HandlerMap = { ...handlers, ...stubs };
  const table = new RouteTable<RequestHandler>();
  const bodyLimit = parseSize(app.config.max_request_body_size);
  const uploadLimit = parseSize(app.config.max_upload_size);
  const served = operationTable.filter((op) => op.operationId in all);
  for (const op of served) {
    const handler = all[op.operationId as OperationId] as Handler<OperationId>;
    const chain: RequestHandler[] = [
      (_req, res, next) => { res.locals.operationId = op.operationId; next(); },
    ];
    if (op.security.length > 0) chain.push(authenticate(app.accounts));
    if (op.hasBody && !consumesJson(op)) chain.push(...rawBody(uploadLimit));
    else if (op.hasBody) chain.push(...jsonBody(bodyLimit, op.bodyRequired), validateBody(op.operationId as OperationId));
    if (op.parameters.some((p) => p.in === 'query')) chain.push(validateQuery(op.operationId as OperationId));
    const rateLimit = rateLimitFor(op.operationId as OperationId, app);
    if (rateLimit) chain.push(rateLimit);
    chain.push(callHandler(op, handler, app, fail));
    table.add(op.method, op.path, composeChain(chain));
  }
  const front = ((req, res, next) => {
    const m = table.match(req.method, req.path);
    if (m.kind === 'found') {
      req.params = m.params;
      m.target(req, res, next);
    } else if (m.kind === 'method') {
      next(errors.unrecognized(405));
    } else {
      next();
    }
  }) as MatrixRouter;
  front.routes = served.map((op) => ({ method: op.method, template: op.path }));
  return front;
}
