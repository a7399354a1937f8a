import express, { type Express } from 'express';
import type { AppContext } from './context.js';
import type { HandlerMap } from './handler.js';
import { cors } from './middleware/cors.js';
import { errorHandler, unrecognized } from './middleware/error-handler.js';
import { requestLog } from './middleware/request-log.js';
import { clientListener } from '../config/listeners.js';
import { httpMetrics } from '../metrics/http-metrics.js';
import { responseValidation } from './middleware/validate-response.js';
import { mountOperationalRoutes } from './operational-routes.js';
import { buildMatrixRouter, composeChain } from './router.js';
import { routeHandlers } from './routes/index.js';

export interface CreateAppOptions {
  /** Tests only: handlers that replace or add to the real ones, even for not-yet-implemented operations. */
  stubs?: HandlerMap;
}

export function createApp(ctx: AppContext, options: CreateAppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // x_forwarded: the client address (logs, rate limits) is X-Forwarded-For's first entry.
  app.set('trust proxy', clientListener(ctx.config).x_forwarded);
  // One Express layer for what every request goes through, and the Matrix routes: each
  // layer Express walks costs a path match, measurable at thousands of requests a second.
  // the one error handler: after every layer, and called by a route's last step itself (router.ts)
  const onError = errorHandler(ctx.logger);
  const matrix = buildMatrixRouter(ctx, routeHandlers, onError, options.stubs);
  const front = composeChain([
    requestLog(ctx.logger),
    httpMetrics(ctx.metrics),
    cors,
    ...(ctx.config.testing.validate_responses ? [responseValidation(ctx.logger)] : []),
    matrix,
  ]);
  app.use(Object.assign(front, { routes: matrix.routes }));
  mountOperationalRoutes(app);
  app.use(unrecognized);
  app.use(onError);
  return app;
}
