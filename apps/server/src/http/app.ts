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
import { buildMatrixRouter } from './router.js';
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
  app.use(requestLog(ctx.logger));
  app.use(httpMetrics(ctx.metrics));
  app.use(cors);
  if (ctx.config.testing.validate_responses) app.use(responseValidation(ctx.logger));
  mountOperationalRoutes(app);
  app.use(buildMatrixRouter(ctx, routeHandlers, options.stubs));
  app.use(unrecognized);
  app.use(errorHandler(ctx.logger));
  return app;
}
