import type { ErrorRequestHandler, RequestHandler } from 'express';
import { errors, MatrixError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { requestLogger } from './request-log.js';

/** Errors from Express and body-parser carry `status` and `type`. */
interface HttpishError { status?: unknown; statusCode?: unknown; type?: unknown; expose?: unknown; message?: unknown }

function toMatrixError(err: unknown): MatrixError | null {
  if (err instanceof MatrixError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as HttpishError;
  if (e.type === 'entity.too.large') return errors.tooLarge();
  if (e.type === 'request.aborted') return errors.unknown('Request aborted');
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return errors.unknown(e.expose === true && typeof e.message === 'string' ? e.message : 'Bad request', status);
  return null;
}

export const unrecognized: RequestHandler = () => {
  throw errors.unrecognized(404);
};

/** The one error handler: every failure leaves as `{errcode, error}` JSON, never HTML. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const log = requestLogger(res, logger);
    if (res.headersSent) {
      log.error({ err }, 'error after response started');
      res.destroy();
      return;
    }
    const matrix = toMatrixError(err);
    if (!matrix) log.error({ err, method: req.method, path: req.path }, 'unhandled error');
    const out = matrix ?? new MatrixError(500, 'M_UNKNOWN', 'Internal server error');
    res.status(out.httpStatus).json(out.toJSON());
  };
}
