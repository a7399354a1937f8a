import { describesResponse, operationTable, validateResponse, type OperationId } from '@axon/contract';
import type { RequestHandler, Response } from 'express';
import type { Logger } from '../../logging.js';
import { requestLogger } from './request-log.js';

function isErrorBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const { errcode, error } = body as { errcode?: unknown; error?: unknown };
  return typeof errcode === 'string' && /^M_[A-Z_]+$/.test(errcode) && typeof error === 'string';
}

// The seed (old_sync.yaml) is the user's and is never edited: it describes only 200, 400
// and 404, so its other errors (401, 429) are held to the common error shape, as listed in
// spec/CHANGES.md. Every other file must describe each status its handlers answer.
const SEED_OPERATIONS: ReadonlySet<string> = new Set(
  operationTable.filter((op) => op.file === 'api/client-server/old_sync.yaml').map((op) => op.operationId),
);

/** What is wrong with this response, or null. */
function problemWith(res: Response, body: unknown): string | null {
  const operationId = res.locals.operationId as OperationId | undefined;
  const status = res.statusCode;
  // Handler replies and successes must match spec/ exactly. Errors raised before the
  // handler ran (auth, body parsing, unknown routes) and crashes (500) come from shared
  // middleware and are held to the common error shape only.
  const seedError = operationId !== undefined && status >= 400 && SEED_OPERATIONS.has(operationId) && !describesResponse(operationId, status);
  if (operationId && status !== 500 && !seedError && (status < 400 || res.locals.handlerStarted === true)) {
    const checked = validateResponse(operationId, status, body);
    return checked.ok ? null : checked.issues.map((i) => `${i.path || '(root)'} ${i.message}`).join('; ');
  }
  if (status >= 400 && !isErrorBody(body)) return 'error body lacks errcode/error';
  return null;
}

/**
 * Test mode: every JSON response is checked against spec/ before it leaves. A violation
 * becomes a 500 naming the problem and an error log line, so no test can pass over it.
 */
export function responseValidation(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const send = res.json.bind(res);
    // a local constant, then stored: see RequestContext in router.ts
    const json = (body: unknown): Response => {
      const problem = problemWith(res, body);
      if (problem === null) return send(body);
      requestLogger(res, logger).error(
        { operationId: res.locals.operationId, method: req.method, path: req.path, status: res.statusCode, problem },
        'response violates spec',
      );
      res.status(500);
      return send({ errcode: 'M_UNKNOWN', error: `Response violates spec/: ${problem}` });
    };
    res.json = json;
    next();
  };
}
