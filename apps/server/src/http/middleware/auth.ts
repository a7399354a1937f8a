import type { Request, RequestHandler } from 'express';
import { errors } from '../../errors.js';
import type { Accounts } from '../../domain/accounts/accounts.js';

/**
 * The access token from `?access_token=` (the seed's security definition) or
 * `Authorization: Bearer`. Like Synapse, a request that gives both, repeats either, or
 * uses another scheme counts as having no token.
 */
export function extractAccessToken(req: Request): string | null {
  // Node keeps the first of repeated Authorization headers; rawHeaders has them all
  const header = req.headers.authorization;
  if (header !== undefined && authorizationHeaders(req.rawHeaders) > 1) return null;
  const query = req.query.access_token;
  if (Array.isArray(query)) return null;
  if (header !== undefined) {
    if (query !== undefined) return null;
    const m = /^Bearer (\S+)$/.exec(header);
    return m ? m[1]! : null;
  }
  return typeof query === 'string' && query.length > 0 ? query : null;
}

function authorizationHeaders(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') n++;
  }
  return n;
}

export function authenticate(accounts: Accounts): RequestHandler {
  return async (req, res, next) => {
    const token = extractAccessToken(req);
    if (token === null) throw errors.missingToken();
    res.locals.requester = await accounts.authenticate(token);
    next();
  };
}
