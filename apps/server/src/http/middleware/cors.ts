import type { RequestHandler } from 'express';

/** The headers the Matrix spec asks of servers for web clients, on every response. */
export const cors: RequestHandler = (req, res, next) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT, DELETE, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', 'X-Requested-With, Content-Type, Authorization');
  // Preflights never reach endpoint logic or auth.
  if (req.method === 'OPTIONS') {
    res.status(200).json({});
    return;
  }
  next();
};
