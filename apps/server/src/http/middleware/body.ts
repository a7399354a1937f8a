import express, { type RequestHandler } from 'express';
import { plainBody, readBody } from '../read-body.js';
import { parseJsonBody } from './json-guard.js';

/**
 * Reads the body into `req.body` as bytes: plain bodies by read-body.ts, encoded ones
 * (gzip, deflate, unknown) by body-parser, which inflates or refuses them.
 */
function bodyBytes(limitBytes: number): RequestHandler {
  const raw = express.raw({ type: () => true, limit: limitBytes });
  return (req, res, next) => {
    if (!plainBody(req)) {
      raw(req, res, next);
      return;
    }
    // body-parser reads nothing when the request says it has no body
    if (req.headers['transfer-encoding'] === undefined && req.headers['content-length'] === undefined) {
      next();
      return;
    }
    readBody(req, limitBytes).then((bytes) => {
      req.body = bytes;
      next();
    }, next);
  };
}

/**
 * Reads the body whatever its Content-Type (old clients send JSON without one) and parses
 * it as JSON. Size errors surface as body-parser's 'entity.too.large', which the error
 * handler turns into M_TOO_LARGE.
 */
export function jsonBody(limitBytes: number, bodyRequired = true): RequestHandler[] {
  const raw = bodyBytes(limitBytes);
  const parse: RequestHandler = (req, res, next) => {
    const buf: unknown = req.body;
    const bytes = Buffer.isBuffer(buf) ? buf : Buffer.alloc(0);
    // Clients of the era POST /join and /leave with no body at all, as Synapse allows
    // where the body is optional; elsewhere an empty body is not JSON.
    if (bytes.length === 0 && !bodyRequired) {
      res.locals.body = {};
      next();
      return;
    }
    // Strict UTF-8, bounded nesting, valid Unicode strings: see json-guard.ts.
    res.locals.body = parseJsonBody(bytes);
    next();
  };
  return [raw, parse];
}

/**
 * For operations whose spec `consumes` something other than JSON (media upload): the
 * bytes as they came, as a Buffer in `res.locals.body`, up to `limitBytes`.
 */
export function rawBody(limitBytes: number): RequestHandler[] {
  const raw = bodyBytes(limitBytes);
  const keep: RequestHandler = (req, res, next) => {
    const buf: unknown = req.body;
    res.locals.body = Buffer.isBuffer(buf) ? buf : Buffer.alloc(0);
    next();
  };
  return [raw, keep];
}
