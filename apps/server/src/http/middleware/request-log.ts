import type { RequestHandler } from 'express';
import type { Logger } from '../../logging.js';

let counter = 0;

/**
 * Gives each request an id (`GET-12`, as Synapse's logs do) and a child logger, and logs
 * one line when it ends. Only the path is logged: the query may hold an access token.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const requestId = `${req.method}-${++counter}`;
    const log = logger.child({ request_id: requestId });
    res.locals.requestId = requestId;
    res.locals.log = log;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      if (req.path === '/health') return;
      log.info({ method: req.method, path: req.path, status: res.statusCode, duration_ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
    });
    next();
  };
}
