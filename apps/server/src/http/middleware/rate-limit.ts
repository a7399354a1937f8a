import type { OperationId } from '@axon/contract';
import type { Request, RequestHandler, Response } from 'express';
import type { Requester } from '../../domain/accounts/accounts.js';
import { resolveUserId } from '../../domain/accounts/user-id.js';
import { TokenBucketLimiter, type RateLimitOutcome } from '../../domain/ratelimit/token-bucket.js';
import { MatrixError } from '../../errors.js';
import type { AppContext } from '../context.js';
import { clientAddress } from './request-log.js';

/** Operations that create events for a user: rc_message (membership changes are not counted, as in Synapse). */
const MESSAGE_OPERATIONS = new Set<string>([
  'sendMessage', 'postMessage', 'setRoomState', 'setRoomStateWithKey', 'redactEvent', 'postRedaction',
]);
const LOGIN_OPERATIONS = new Set<string>(['login']);
/** The shared-secret admin API is not here: it is exempt. */
const REGISTRATION_OPERATIONS = new Set<string>(['registerV1', 'registerV2']);

interface Limiters {
  message: TokenBucketLimiter;
  loginAddress: TokenBucketLimiter;
  loginAccount: TokenBucketLimiter;
  registration: TokenBucketLimiter;
}

const perServer = new WeakMap<AppContext, Limiters>();

function limitersOf(app: AppContext): Limiters {
  let l = perServer.get(app);
  if (!l) {
    const { rc_message, rc_login, rc_registration } = app.config;
    l = {
      message: new TokenBucketLimiter(rc_message),
      loginAddress: new TokenBucketLimiter(rc_login),
      loginAccount: new TokenBucketLimiter(rc_login),
      registration: new TokenBucketLimiter(rc_registration),
    };
    perServer.set(app, l);
  }
  return l;
}

type LimiterName = 'rc_message' | 'rc_login' | 'rc_registration';

function refuse(app: AppContext, res: Response, limiter: LimiterName, outcome: RateLimitOutcome): void {
  if (outcome.allowed) return;
  app.metrics.rateLimited.inc({ limiter });
  res.setHeader('Retry-After', String(Math.ceil(outcome.retryAfterMs / 1000)));
  throw new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too Many Requests', { retry_after_ms: outcome.retryAfterMs });
}

function loginUser(req: Request, res: Response, serverName: string): string | null {
  const body = res.locals.body as { user?: unknown } | undefined ?? (req.body as { user?: unknown } | undefined);
  const user = body?.user;
  if (typeof user !== 'string' || user === '') return null;
  return (resolveUserId(user, serverName) ?? user).toLowerCase();
}

/**
 * The rate limit of an operation, as Synapse applies them, or null for unlimited ones:
 * - rc_message: per user, on every event sent (send, state, redact); admins are exempt;
 * - rc_login: per client address and per user named, on every POST /login;
 * - rc_registration: per client address, counting registrations that succeed (checked
 *   on every attempt, so the user-interactive round trip costs one).
 * Mounted after authentication and body parsing; answers 429 M_LIMIT_EXCEEDED with
 * `retry_after_ms`.
 */
export function rateLimitFor(operationId: OperationId, app: AppContext): RequestHandler | null {
  if (MESSAGE_OPERATIONS.has(operationId)) {
    return async (_req, res, next) => {
      const requester = res.locals.requester as Requester | undefined;
      if (requester) {
        const outcome = limitersOf(app).message.take(requester.userId, false);
        if (!outcome.allowed && (await app.storage.getUser(requester.userId))?.admin === true) return next();
        refuse(app, res, 'rc_message', outcome);
        limitersOf(app).message.take(requester.userId);
      }
      next();
    };
  }
  if (LOGIN_OPERATIONS.has(operationId)) {
    return (req, res, next) => {
      const limiters = limitersOf(app);
      const address = clientAddress(req);
      const user = loginUser(req, res, app.config.server_name);
      refuse(app, res, 'rc_login', limiters.loginAddress.take(address, false));
      if (user !== null) refuse(app, res, 'rc_login', limiters.loginAccount.take(user, false));
      limiters.loginAddress.take(address);
      if (user !== null) limiters.loginAccount.take(user);
      next();
    };
  }
  if (REGISTRATION_OPERATIONS.has(operationId)) {
    return (req, res, next) => {
      const limiter = limitersOf(app).registration;
      const address = clientAddress(req);
      refuse(app, res, 'rc_registration', limiter.take(address, false));
      res.on('finish', () => { if (res.statusCode === 200) limiter.record(address); });
      next();
    };
  }
  return null;
}
