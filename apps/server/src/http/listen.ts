import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenerConfig } from '../config/schema.js';

/** Binds `server` to the listener's port and first address; resolves with its URL (the real port when the config says 0). */
export async function listenOn(server: Server, listener: ListenerConfig): Promise<{ url: string; port: number }> {
  const host = listener.bind_addresses[0]!;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listener.port, host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, port };
}

/**
 * Stops accepting and resolves once every connection is gone: busy ones finish their
 * request first and are cut after `graceMs`. Each then turns idle, and idle keep-alive
 * sockets would hold close() open until their timeout, so they are swept as they appear.
 */
export function closeGracefully(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => { clearInterval(sweep); clearTimeout(force); resolve(); });
    server.closeIdleConnections();
  });
}
