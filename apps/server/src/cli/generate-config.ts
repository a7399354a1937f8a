import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateConfig } from '../config/generate.js';
import { parseFlags, required, UsageError } from './args.js';

export async function generateConfigCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, {
    'server-name': { type: 'string' }, 'config-path': { type: 'string' }, 'data-dir': { type: 'string' },
    port: { type: 'string' }, bind: { type: 'string' }, database: { type: 'string' }, 'enable-registration': { type: 'boolean' },
  });
  const configPath = path.resolve(required(flags['config-path'], 'config-path'));
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError(`--port must be 0-65535, got ${flags.port}`);
  // Like Synapse: never overwrite an operator's config (and its secrets).
  if (existsSync(configPath)) {
    console.error(`axon: ${configPath} already exists; not overwriting it`);
    return 1;
  }
  const text = generateConfig({
    serverName: required(flags['server-name'], 'server-name'),
    dataDir: flags['data-dir'] ?? path.dirname(configPath),
    port,
    bind: flags.bind,
    database: flags.database,
    enableRegistration: flags['enable-registration'] === true,
  });
  mkdirSync(path.dirname(configPath), { recursive: true });
  writeFileSync(configPath, text, { mode: 0o600 });
  console.log(`axon: wrote ${configPath}`);
  return 0;
}
