import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { HomeserverConfig } from './config/schema.js';
import { Accounts } from './domain/accounts/accounts.js';
import { NonceStore } from './domain/accounts/shared-secret.js';
import { UiaSessions } from './domain/accounts/uia.js';
import { createApp, type CreateAppOptions } from './http/app.js';
import type { AppContext } from './http/context.js';
import type { Logger } from './logging.js';
import { openStorage } from './storage/open.js';

export interface RunningHomeserver {
  /** e.g. http://127.0.0.1:8008, with the real port when the config says 0. */
  url: string;
  port: number;
  server: Server;
  context: AppContext;
  /** Stops accepting, lets in-flight requests finish, then closes the database. */
  close(): Promise<void>;
}

export async function startHomeserver(config: HomeserverConfig, logger: Logger, options: CreateAppOptions = {}): Promise<RunningHomeserver> {
  const storage = await openStorage(config.database);
  const context: AppContext = {
    config,
    storage,
    accounts: new Accounts(storage, { serverName: config.server_name, enableRegistration: config.enable_registration }),
    nonces: new NonceStore(),
    uia: new UiaSessions(),
    logger,
  };
  const listener = config.listeners[0]!;
  const host = listener.bind_addresses[0]!;
  let server: Server;
  try {
    server = createServer(createApp(context, options));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listener.port, host, () => { server.off('error', reject); resolve(); });
    });
  } catch (err) {
    await storage.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive sockets would hold close() open; busy ones finish their request first.
        server.closeIdleConnections();
      });
      await storage.close();
    })();
    return closing;
  };
  return { url, port, server, context, close };
}
