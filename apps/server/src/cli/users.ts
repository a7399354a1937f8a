import { loadConfig } from '../config/load.js';
import { Accounts } from '../domain/accounts/accounts.js';
import { openStorage } from '../storage/open.js';
import { parseFlags, required } from './args.js';

/** Deactivates an account straight on the database (safe next to a running server: WAL). */
export async function deactivateUserCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, { config: { type: 'string' }, user: { type: 'string' } });
  const config = loadConfig(required(flags.config, 'config'));
  const user = required(flags.user, 'user');
  const storage = await openStorage(config.database);
  try {
    const accounts = new Accounts(storage, { serverName: config.server_name, enableRegistration: config.enable_registration });
    const userId = await accounts.deactivate(user);
    console.log(`axon: deactivated ${userId}; its sessions are logged out and it can no longer log in`);
    return 0;
  } finally {
    await storage.close();
  }
}

/** Prints every account: user id, admin, deactivated, creation time; `--json` for one JSON object per line. */
export async function listUsersCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, { config: { type: 'string' }, json: { type: 'boolean' } });
  const config = loadConfig(required(flags.config, 'config'));
  const storage = await openStorage(config.database);
  try {
    const users = await storage.listUsers();
    if (flags.json === true) {
      for (const u of users) {
        console.log(JSON.stringify({ user_id: u.userId, admin: u.admin, deactivated: u.deactivated, created_ts: u.createdTs }));
      }
      return 0;
    }
    const rows = [['USER', 'ADMIN', 'DEACTIVATED', 'CREATED'],
      ...users.map((u) => [u.userId, u.admin ? 'yes' : 'no', u.deactivated ? 'yes' : 'no', new Date(u.createdTs).toISOString()])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
    return 0;
  } finally {
    await storage.close();
  }
}
