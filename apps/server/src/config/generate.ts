import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { stringify } from 'yaml';
import { RATE_LIMIT_DEFAULTS } from './schema.js';

export interface GenerateOptions {
  serverName: string;
  dataDir: string;
  port?: number;
  bind?: string;
  /** `sqlite:PATH` or `postgres://...`; default SQLite at DATA_DIR/homeserver.db. */
  database?: string;
  enableRegistration?: boolean;
}

const secret = (): string => randomBytes(32).toString('base64url');
const y = (value: unknown): string => stringify(value).trimEnd();

function databaseSection(options: GenerateOptions, dataDir: string): string {
  const url = options.database;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    return `database:\n  name: postgres\n  args:\n    url: ${y(url)}\n`;
  }
  if (url && !url.startsWith('sqlite:')) throw new Error(`--database must be sqlite:PATH or postgres://..., got ${url}`);
  const file = url ? path.resolve(url.slice('sqlite:'.length)) : path.join(dataDir, 'homeserver.db');
  return [
    'database:',
    '  name: sqlite3',
    '  args:',
    `    database: ${y(file)}`,
    '    # NORMAL: a request answered 200 survives a crash of the process (WAL mode).',
    '    # FULL: it also survives a power loss or OS crash, at the cost of an fsync per commit.',
    '    synchronous: NORMAL',
  ].join('\n') + '\n';
}

function rateLimit(name: keyof typeof RATE_LIMIT_DEFAULTS, comment: string): string {
  const { per_second, burst_count } = RATE_LIMIT_DEFAULTS[name];
  return `# ${comment}\n${name}:\n  per_second: ${per_second}\n  burst_count: ${burst_count}\n`;
}

/** The text of a new homeserver.yaml, commented, shaped like Synapse's. */
export function generateConfig(options: GenerateOptions): string {
  const dataDir = path.resolve(options.dataDir);
  return [
    '# Axon homeserver configuration. Keys follow Synapse\'s names where they exist.',
    '',
    '# The domain part of every user ID and room alias on this server. It cannot change later.',
    `server_name: ${y(options.serverName)}`,
    '',
    '# Where the client API listens. Port 0 picks any free port.',
    'listeners:',
    `  - port: ${options.port ?? 8008}`,
    `    bind_addresses: [${y(options.bind ?? '127.0.0.1')}]`,
    '    type: http',
    '    # Trust X-Forwarded-For from a reverse proxy in front of the server.',
    '    x_forwarded: false',
    '  # Prometheus metrics at /_synapse/metrics on their own port (needs enable_metrics: true).',
    '  # Keep this port away from the public internet.',
    '  # - port: 9000',
    '  #   bind_addresses: [127.0.0.1]',
    '  #   type: metrics',
    '  # Several processes on one PostgreSQL database (docs/scaling.md): on each process, where',
    '  # the others read its replication notices, and on the event persister, where they hand',
    '  # it their room messages. Keep this port private too.',
    '  # - port: 9093',
    '  #   bind_addresses: [127.0.0.1]',
    '  #   type: replication',
    '',
    '# Serve the metrics listeners above.',
    'enable_metrics: false',
    '',
    '# Several processes on one PostgreSQL database: the replication listeners\' secret (the same',
    '# on every process); on each process but the persister, the persister\'s listener; and, for',
    '# processes on several hosts, where the others reach this one\'s.',
    `# worker_replication_secret: ${y(secret())}`,
    '# event_persister: http://127.0.0.1:9093',
    '# replication_url: http://10.0.0.5:9093',
    '',
    '# sqlite3 (embedded, the default) or postgres.',
    databaseSection(options, dataDir),
    '# Lets `axon register-user` (and Synapse\'s register_new_matrix_user) create accounts',
    '# through /_synapse/admin/v1/register. Remove it to disable that API.',
    `registration_shared_secret: ${y(secret())}`,
    '',
    '# Secrets for tokens and forms; keep them private.',
    `macaroon_secret_key: ${y(secret())}`,
    `form_secret: ${y(secret())}`,
    '',
    '# Whether anyone may register an account through the client API.',
    `enable_registration: ${options.enableRegistration ? 'true' : 'false'}`,
    '',
    '# Rate limits: a bucket refilling at per_second, holding at most burst_count requests.',
    '# Over the limit, clients get 429 M_LIMIT_EXCEEDED with retry_after_ms. Admins are exempt',
    '# from rc_message, and the shared-secret registration API from rc_registration.',
    rateLimit('rc_message', 'Sending events (messages, state, redactions), per user.'),
    rateLimit('rc_login', 'Login attempts, per client address and per user.'),
    rateLimit('rc_registration', 'Registrations, per client address.'),
    '# Largest media upload, and largest JSON request body (K, M or G suffix).',
    'max_upload_size: 50M',
    'max_request_body_size: 1M',
    '',
    `media_store_path: ${y(path.join(dataDir, 'media_store'))}`,
    '',
    '# trace, debug, info, warn, error, fatal or silent. Logs are JSON lines on stdout.',
    'log_level: info',
    '',
  ].join('\n');
}
