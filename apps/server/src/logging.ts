import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config/schema.js';

export type { Logger };

/** JSON lines on stdout (or `destination`); secrets are kept out by never logging bodies or query strings. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, base: { name: 'axon' }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}
