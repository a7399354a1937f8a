import { readFileSync } from 'node:fs';
import path from 'node:path';
import ajvModule, { type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { configSchema, type HomeserverConfig } from './schema.js';

const Ajv = ajvModule.default;
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false, allowUnionTypes: true });
const validate = ajv.compile(configSchema);

/** A config that cannot be used; the message names the key and what is wrong with it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function keyOf(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') parts.push(String(e.params.missingProperty));
  if (e.keyword === 'additionalProperties') parts.push(String(e.params.additionalProperty));
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required': return 'is required';
    case 'additionalProperties': return 'is not a known setting';
    case 'enum': return `must be one of ${(e.params.allowedValues as unknown[]).map(String).join(', ')}`;
    default: return e.message ?? 'is invalid';
  }
}

/** Validates a parsed config, fills in defaults and resolves paths against `baseDir`. */
export function checkConfig(raw: unknown, baseDir: string): HomeserverConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('config must be a YAML mapping');
  const copy = structuredClone(raw);
  if (!validate(copy)) {
    // `if` failures repeat what its branch already said
    const problems = (validate.errors ?? []).filter((e) => e.keyword !== 'if').map((e) => `${keyOf(e) || '(root)'}: ${describe(e)}`);
    throw new ConfigError(`invalid config: ${[...new Set(problems)].join('; ')}`);
  }
  const config = copy as unknown as HomeserverConfig;
  if (!config.listeners.some((l) => l.type === 'http')) throw new ConfigError('invalid config: listeners: needs one listener of type http');
  config.listeners.forEach((l, i) => {
    if (l.type === 'metrics' && !config.enable_metrics) {
      throw new ConfigError(`invalid config: listeners[${i}]: a listener of type metrics needs enable_metrics: true`);
    }
    if (l.type === 'replication' && config.worker_replication_secret === undefined) {
      throw new ConfigError(`invalid config: listeners[${i}]: a listener of type replication needs worker_replication_secret`);
    }
    if (l.type === 'replication' && config.database.name !== 'postgres') {
      throw new ConfigError(`invalid config: listeners[${i}]: a listener of type replication needs a postgres database (processes share it)`);
    }
  });
  if (config.event_persister !== undefined) {
    if (config.worker_replication_secret === undefined) throw new ConfigError('invalid config: event_persister: needs worker_replication_secret');
    if (config.database.name !== 'postgres') throw new ConfigError('invalid config: event_persister: needs a postgres database (processes share it)');
  }
  if (config.replication_url !== undefined && !config.listeners.some((l) => l.type === 'replication')) {
    throw new ConfigError('invalid config: replication_url: needs a listener of type replication (the address it names)');
  }
  if (config.database.name === 'sqlite3') {
    config.database.args.synchronous ??= 'NORMAL';
    if (config.database.args.database !== ':memory:') config.database.args.database = path.resolve(baseDir, config.database.args.database);
  }
  config.media_store_path = path.resolve(baseDir, config.media_store_path);
  if (process.env.AXON_VALIDATE_RESPONSES === '1') config.testing.validate_responses = true;
  return config;
}

export function loadConfig(file: string): HomeserverConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config ${file} is not valid YAML: ${(err as Error).message}`);
  }
  return checkConfig(raw, path.dirname(path.resolve(file)));
}
