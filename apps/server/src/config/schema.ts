export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface ListenerConfig {
  port: number;
  bind_addresses: string[];
  /**
   * `http` serves the client API; `metrics` serves /_synapse/metrics (needs enable_metrics);
   * `replication` takes room messages forwarded by the other processes on the database
   * (needs worker_replication_secret; docs/scaling.md).
   */
  type: 'http' | 'metrics' | 'replication';
  x_forwarded: boolean;
}

export interface SqliteDatabaseConfig {
  name: 'sqlite3';
  args: {
    database: string;
    /** NORMAL survives a process crash; FULL also survives power loss, at a cost per commit. */
    synchronous: 'NORMAL' | 'FULL';
  };
}

export interface PostgresDatabaseConfig {
  name: 'postgres';
  /** `cp_max`: the most connections each process opens (Synapse's name); 10 by default. */
  args: { url: string; cp_max?: number };
}

export type DatabaseConfig = SqliteDatabaseConfig | PostgresDatabaseConfig;

export interface RateLimitConfig {
  per_second: number;
  burst_count: number;
}

/** The homeserver.yaml file, after defaults are applied. Keys follow Synapse's names. */
export interface HomeserverConfig {
  server_name: string;
  listeners: ListenerConfig[];
  database: DatabaseConfig;
  registration_shared_secret?: string;
  macaroon_secret_key?: string;
  form_secret?: string;
  enable_registration: boolean;
  rc_message: RateLimitConfig;
  rc_login: RateLimitConfig;
  rc_registration: RateLimitConfig;
  /** Serve Prometheus metrics on the listeners of type `metrics`. */
  enable_metrics: boolean;
  max_upload_size: string;
  max_request_body_size: string;
  /** /events polls one user may have waiting at once; more get 429 M_LIMIT_EXCEEDED. */
  max_waiting_polls_per_user: number;
  media_store_path: string;
  /** TURN servers handed to clients by /voip/turnServer (Synapse's keys); none by default. */
  turn_uris: string[];
  turn_shared_secret?: string;
  /** How long TURN credentials last, as a duration ("1h", "30m", "86400s", or milliseconds). */
  turn_user_lifetime: string;
  /**
   * Presence timers, as durations: online with no activity for `idle_after` turns
   * unavailable (Synapse: 5 min); no /events poll for `offline_after` turns offline
   * (Synapse: 30 s).
   */
  presence: { idle_after: string; offline_after: string };
  /** Shared by the processes of one deployment: the bearer token of the replication listener. */
  worker_replication_secret?: string;
  /**
   * The replication listener (http://host:port) of the process that stores every room
   * message sent with a txnId; this process forwards its own there. Unset: it stores them
   * itself. PostgreSQL only.
   */
  event_persister?: string;
  /**
   * Where the other processes reach this process's replication listener (http://host:port),
   * to read its replication notices. Unset: the listener's own address, which does for
   * processes on one host.
   */
  replication_url?: string;
  log_level: LogLevel;
  testing: { validate_responses: boolean };
}

const rateLimit = (perSecond: number, burst: number) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    per_second: { type: 'number', exclusiveMinimum: 0 },
    burst_count: { type: 'number', minimum: 1 },
  },
  required: ['per_second', 'burst_count'],
  default: { per_second: perSecond, burst_count: burst },
});

const size = { type: 'string', pattern: '^[0-9]+[KMG]?$' } as const;

/** A replication listener's address: plain HTTP (node:http), host and port, no path. */
export const REPLICATION_URL_PATTERN = '^http://[^/?#]+/?$';

// Synapse's defaults (docs/usage/configuration/config_documentation.md).
export const RATE_LIMIT_DEFAULTS = {
  rc_message: { per_second: 0.2, burst_count: 10 },
  rc_login: { per_second: 0.17, burst_count: 3 },
  rc_registration: { per_second: 0.17, burst_count: 3 },
} as const;

// Hand-written rather than JSONSchemaType<HomeserverConfig>: Ajv's type helper cannot
// express the database union. `synchronous` gets its default in load.ts, because Ajv
// does not apply defaults under if/then.
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    server_name: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9.\\-\\[\\]:]+$' },
    listeners: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          port: { type: 'integer', minimum: 0, maximum: 65535 },
          bind_addresses: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, default: ['127.0.0.1'] },
          type: { type: 'string', enum: ['http', 'metrics', 'replication'], default: 'http' },
          x_forwarded: { type: 'boolean', default: false },
        },
        required: ['port'],
      },
    },
    database: {
      type: 'object',
      required: ['name', 'args'],
      properties: { name: { type: 'string', enum: ['sqlite3', 'postgres'] }, args: { type: 'object' } },
      // if/then rather than oneOf, so that an error names the key that is wrong
      if: { properties: { name: { const: 'postgres' } } },
      then: {
        properties: {
          args: {
            additionalProperties: false,
            properties: { url: { type: 'string', pattern: '^postgres(ql)?://' }, cp_max: { type: 'integer', minimum: 1, maximum: 1000 } },
            required: ['url'],
          },
        },
      },
      else: {
        properties: {
          args: {
            additionalProperties: false,
            properties: {
              database: { type: 'string', minLength: 1 },
              synchronous: { type: 'string', enum: ['NORMAL', 'FULL'] },
            },
            required: ['database'],
          },
        },
      },
    },
    registration_shared_secret: { type: 'string', minLength: 1 },
    macaroon_secret_key: { type: 'string', minLength: 1 },
    form_secret: { type: 'string', minLength: 1 },
    enable_registration: { type: 'boolean', default: false },
    rc_message: rateLimit(RATE_LIMIT_DEFAULTS.rc_message.per_second, RATE_LIMIT_DEFAULTS.rc_message.burst_count),
    rc_login: rateLimit(RATE_LIMIT_DEFAULTS.rc_login.per_second, RATE_LIMIT_DEFAULTS.rc_login.burst_count),
    rc_registration: rateLimit(RATE_LIMIT_DEFAULTS.rc_registration.per_second, RATE_LIMIT_DEFAULTS.rc_registration.burst_count),
    enable_metrics: { type: 'boolean', default: false },
    max_upload_size: { ...size, default: '50M' },
    max_request_body_size: { ...size, default: '1M' },
    max_waiting_polls_per_user: { type: 'integer', minimum: 1, default: 20 },
    media_store_path: { type: 'string', minLength: 1, default: 'media_store' },
    turn_uris: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    turn_shared_secret: { type: 'string', minLength: 1 },
    turn_user_lifetime: { type: 'string', pattern: '^[0-9]+(ms|s|m|h|d|w)?$', default: '1h' },
    presence: {
      type: 'object',
      additionalProperties: false,
      properties: {
        idle_after: { type: 'string', pattern: '^[0-9]+(ms|s|m|h|d|w)?$', default: '5m' },
        offline_after: { type: 'string', pattern: '^[0-9]+(ms|s|m|h|d|w)?$', default: '30s' },
      },
      default: { idle_after: '5m', offline_after: '30s' },
    },
    worker_replication_secret: { type: 'string', minLength: 1 },
    event_persister: { type: 'string', pattern: REPLICATION_URL_PATTERN },
    replication_url: { type: 'string', pattern: REPLICATION_URL_PATTERN },
    log_level: { type: 'string', enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' },
    testing: {
      type: 'object',
      additionalProperties: false,
      properties: { validate_responses: { type: 'boolean', default: false } },
      default: { validate_responses: false },
    },
  },
  required: ['server_name', 'listeners', 'database'],
} as const;
