import { ConfigError } from '../config/load.js';
import { MatrixError } from '../errors.js';
import { UsageError } from './args.js';
import { backupCommand } from './backup.js';
import { generateConfigCommand } from './generate-config.js';
import { registerUserCommand } from './register-user.js';
import { resetPasswordCommand } from './reset-password.js';
import { startCommand } from './start.js';
import { deactivateUserCommand, listUsersCommand } from './users.js';

const USAGE = `usage:
  axon generate-config --server-name NAME --config-path FILE [--data-dir DIR] [--port N] [--bind ADDR]
                       [--database sqlite:PATH|postgres://...] [--enable-registration]
  axon start --config FILE
  axon register-user --config FILE --user NAME --password P [--admin] [--url URL]
  axon reset-password --config FILE --user NAME --password P
  axon deactivate-user --config FILE --user NAME
  axon list-users --config FILE [--json]
  axon backup --config FILE --to PATH`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  'generate-config': generateConfigCommand,
  start: startCommand,
  'register-user': registerUserCommand,
  'reset-password': resetPasswordCommand,
  'deactivate-user': deactivateUserCommand,
  'list-users': listUsersCommand,
  backup: backupCommand,
};

/** Runs one command; resolves with the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const command = name === undefined ? undefined : commands[name];
  if (!command) {
    console.error(name === undefined || name === '--help' ? USAGE : `axon: unknown command ${name}\n${USAGE}`);
    return name === '--help' ? 0 : 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`axon ${name}: ${err.message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof MatrixError) {
      console.error(`axon ${name}: ${err.message}`);
      return 1;
    }
    console.error(`axon ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
