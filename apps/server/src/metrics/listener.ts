import { createServer, type Server } from 'node:http';
import type { ListenerConfig } from '../config/schema.js';
import { listenOn } from '../http/listen.js';
import type { Logger } from '../logging.js';
import type { ServerMetrics } from './metrics.js';

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/** The path Synapse serves (and existing dashboards scrape); `/metrics` answers too. */
export const METRICS_PATHS = ['/_synapse/metrics', '/metrics'];

/** A plain HTTP server answering GET /_synapse/metrics, on its own port, away from the client API. */
export async function startMetricsListener(listener: ListenerConfig, metrics: ServerMetrics, logger: Logger): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!METRICS_PATHS.includes(path)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('Method not allowed\n');
      return;
    }
    metrics.expose().then(
      (text) => { res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : text); },
      (err: unknown) => {
        logger.error({ err }, 'metrics collection failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  const { url } = await listenOn(server, listener);
  return {
    url,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
