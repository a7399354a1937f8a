import type { Request, RequestHandler } from 'express';
import { errors } from '../../errors.js';
import type { Accounts } from '../../domain/accounts/accounts.js';

/**
 * The access token from `?access_token=` (the seed's security definition) or
 * `Authorization: Bearer`. Like Synapse, a request that gives both, repeats either, or
 * uses another scheme counts as having no token.
 */
export function extractAccessToken(req: Request): string | null {
  const headers = req.headersDistinct.authorization ?? [];
  const query = req.query.access_token;
  if (headers.length > 1 || Array.isArray(query)) return null;
  const header = headers[0];
  if (header !== undefined) {
    if (query !== undefined) return null;
    const m = /^Bearer (\S+)$/.exec(header);
    return m ? m[1]! : null;
  }
  return typeof query === 'string' && query.length > 0 ? query : null;
}

export function authenticate(accounts: Accounts): RequestHandler {
  return async (req, res, next) => {
    const token = extractAccessToken(req);
    if (token === null) throw errors.missingToken();
    res.locals.requester = await accounts.authenticate(token);
    next();
  };
}
