import { operationTable } from '@axon/contract';
import type { RequestHandler } from 'express';
import { onResponseEnd } from '../http/middleware/request-log.js';
import type { ServerMetrics } from './metrics.js';

const templateOf = new Map<string, string>(operationTable.map((op) => [op.operationId, op.path]));

/**
 * Counts requests and times them per route template (`/rooms/{roomId}/send/{eventType}/{txnId}`),
 * never per raw URL, so the series stay few. Requests that match no operation are `unmatched`.
 */
export function httpMetrics(metrics: ServerMetrics): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    metrics.httpInFlight++;
    onResponseEnd(res, () => {
      metrics.httpInFlight--;
      const operationId = res.locals.operationId as string | undefined;
      const route = (operationId && templateOf.get(operationId)) || (req.path === '/health' ? '/health' : 'unmatched');
      metrics.httpDuration.child({ method: req.method, route }).observeSince(started);
      metrics.httpRequests.inc({ method: req.method, route, code: String(res.statusCode) });
    });
    next();
  };
}
