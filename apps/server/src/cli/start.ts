import { loadConfig } from '../config/load.js';
import { startHomeserver } from '../homeserver.js';
import { createLogger } from '../logging.js';
import { parseFlags, required } from './args.js';

/** Serves in the foreground until SIGTERM or SIGINT; resolves with the exit code. */
export async function startCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, { config: { type: 'string' } });
  const config = loadConfig(required(flags.config, 'config'));
  const logger = createLogger(config.log_level);
  const hs = await startHomeserver(config, logger);
  logger.info({ url: hs.url, server_name: config.server_name, ...(hs.replicationUrl ? { replication_url: hs.replicationUrl } : {}) }, 'listening');
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      logger.info({ signal }, 'stopping');
      hs.close().then(
        () => { logger.info('stopped'); logger.flush(); resolve(0); },
        (err: unknown) => { logger.error({ err }, 'error while stopping'); logger.flush(); resolve(1); },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
