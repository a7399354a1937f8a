import { loadConfig } from '../config/load.js';
import { Accounts } from '../domain/accounts/accounts.js';
import { checkPasswordLength, MAX_PASSWORD_LENGTH } from '../domain/accounts/password.js';
import { openStorage } from '../storage/open.js';
import { parseFlags, required } from './args.js';

/** The operator's reset, straight on the database (safe next to a running server: WAL). */
export async function resetPasswordCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, { config: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' } });
  const config = loadConfig(required(flags.config, 'config'));
  const user = required(flags.user, 'user');
  const password = required(flags.password, 'password');
  try {
    checkPasswordLength(password);
  } catch {
    console.error(`axon: the password is longer than ${MAX_PASSWORD_LENGTH} characters`);
    return 1;
  }
  const storage = await openStorage(config.database);
  try {
    const accounts = new Accounts(storage, { serverName: config.server_name, enableRegistration: config.enable_registration });
    const userId = await accounts.resetPassword(user, password);
    console.log(`axon: password reset for ${userId}; its sessions are logged out`);
    return 0;
  } finally {
    await storage.close();
  }
}
