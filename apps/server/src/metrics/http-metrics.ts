import { operationTable } from '@axon/contract';
import type { RequestHandler } from 'express';
import { onResponseEnd } from '../http/middleware/request-log.js';
import type { ServerMetrics } from './metrics.js';
import type { HistogramChild } from './series.js';

const templateOf = new Map<string, string>(operationTable.map((op) => [op.operationId, op.path]));

/**
 * Counts requests and times them per route template (`/rooms/{roomId}/send/{eventType}/{txnId}`),
 * never per raw URL, so the series stay few. Requests that match no operation are `unmatched`.
 */
export function httpMetrics(metrics: ServerMetrics): RequestHandler {
  // The series of each (method, route) and status code, found without building label
  // objects or keys per request.
  const byRoute = new Map<string, { duration: HistogramChild; codes: Map<number, { value: number }> }>();
  const seriesFor = (method: string, route: string): { duration: HistogramChild; codes: Map<number, { value: number }> } => {
    const key = method + route;
    let series = byRoute.get(key);
    if (!series) {
      series = { duration: metrics.httpDuration.child({ method, route }), codes: new Map() };
      byRoute.set(key, series);
    }
    return series;
  };
  return (req, res, next) => {
    const started = performance.now();
    metrics.httpInFlight++;
    onResponseEnd(res, () => {
      metrics.httpInFlight--;
      const operationId = res.locals.operationId as string | undefined;
      const route = (operationId && templateOf.get(operationId)) || (req.path === '/health' ? '/health' : 'unmatched');
      const series = seriesFor(req.method, route);
      series.duration.observeSince(started);
      const status = res.statusCode;
      let counter = series.codes.get(status);
      if (!counter) {
        counter = metrics.httpRequests.child({ method: req.method, route, code: String(status) });
        series.codes.set(status, counter);
      }
      counter.value++;
    });
    next();
  };
}
