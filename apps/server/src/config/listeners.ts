import type { HomeserverConfig, ListenerConfig } from './schema.js';

/** The listener serving the client API: the first of type http (load.ts checks there is one). */
export function clientListener(config: HomeserverConfig): ListenerConfig {
  const listener = config.listeners.find((l) => l.type === 'http');
  if (!listener) throw new Error('no listener of type http');
  return listener;
}

/** The listeners serving /_synapse/metrics; none unless enable_metrics is on. */
export function metricsListeners(config: HomeserverConfig): ListenerConfig[] {
  return config.enable_metrics ? config.listeners.filter((l) => l.type === 'metrics') : [];
}

/** The listeners taking room messages forwarded by other processes (needs worker_replication_secret). */
export function replicationListeners(config: HomeserverConfig): ListenerConfig[] {
  return config.listeners.filter((l) => l.type === 'replication');
}
