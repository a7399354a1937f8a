import express, { type RequestHandler } from 'express';
import { errors } from '../../errors.js';

/**
 * Reads the body whatever its Content-Type (old clients send JSON without one) and parses
 * it as JSON. Size errors surface as body-parser's 'entity.too.large', which the error
 * handler turns into M_TOO_LARGE.
 */
export function jsonBody(limitBytes: number): RequestHandler[] {
  const raw = express.raw({ type: () => true, limit: limitBytes });
  const parse: RequestHandler = (req, res, next) => {
    const buf: unknown = req.body;
    const text = Buffer.isBuffer(buf) ? buf.toString('utf8') : '';
    if (text.trim() === '') throw errors.notJson();
    try {
      res.locals.body = JSON.parse(text) as unknown;
    } catch {
      throw errors.notJson();
    }
    next();
  };
  return [raw, parse];
}
