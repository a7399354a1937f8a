import type { RequestHandler } from 'express';

/**
 * The headers the Matrix spec asks of servers for web clients, on every response. The
 * response class sets them as the head is written (express-classes.ts, `standing`).
 */
export const CORS_HEADERS = [
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT, DELETE, OPTIONS'],
  ['Access-Control-Allow-Headers', 'X-Requested-With, Content-Type, Authorization'],
] as const;

/** Preflights never reach endpoint logic or auth. */
export const cors: RequestHandler = (req, res, next) => {
  if (req.method === 'OPTIONS') {
    res.status(200).json({});
    return;
  }
  next();
};
