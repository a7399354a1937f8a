import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { DEFAULT_SYNC_OPTIONS } from '../../src/domain/sync/sync-service.js';
import { ServerMetrics } from '../../src/metrics/metrics.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

interface LintItem { title: string; line: number; rule: string }
const dockerfilelint = createRequire(import.meta.url)('dockerfilelint') as { run(configPath: string, content: string): LintItem[] };

/** Every key of the config schema, nested ones as `a.b` and list items as `a[].b`. */
function configKeys(schema: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  const s = schema as { properties?: Record<string, Record<string, unknown>>; then?: Record<string, unknown>; else?: Record<string, unknown> };
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (key !== 'database.args') out.push(key);
    const items = v.items as Record<string, unknown> | undefined;
    if (v.type === 'array' && items?.properties) out.push(...configKeys(items, `${key}[]`));
    else if (v.properties && !/^rc_/.test(key)) out.push(...configKeys(v, key));
  }
  for (const branch of [s.then, s.else]) if (branch) out.push(...configKeys(branch, prefix));
  return [...new Set(out)];
}

describe('deployment files', () => {
  it('the Dockerfile passes dockerfilelint and is multi-stage, non-root, with a volume, port 8008 and a health check', () => {
    const text = read('Dockerfile');
    expect(dockerfilelint.run(ROOT, text)).toEqual([]);
    const froms = text.match(/^FROM .*/gm) ?? [];
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:20-bookworm-slim\b/);
    expect(text).toMatch(/^COPY --from=build /m);
    const users = text.match(/^USER (\S+)/gm) ?? [];
    expect(users.at(-1)).toBe('USER axon');
    expect(text).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(text).toMatch(/^EXPOSE 8008$/m);
    expect(text).toMatch(/^HEALTHCHECK .*(\\\n.*)*\/health/m);
    expect(text).toMatch(/pnpm@12\.4\.2/);
    expect(text).toContain('--frozen-lockfile');
    expect(read('.dockerignore')).toMatch(/node_modules/);
  });

  it('dockerfilelint would catch a bad Dockerfile (the lint is live)', () => {
    const items = dockerfilelint.run(ROOT, 'FROM node:latest\nRUN sudo apt-get install curl\nEXPOSE 99999\n');
    expect(items.map((i) => i.rule)).toEqual(expect.arrayContaining(['latest_tag', 'sudo_usage', 'invalid_port']));
  });

  it('the systemd unit starts axon with a config, as a non-root user, and restarts on failure', () => {
    const unit = read('deploy/axon.service');
    expect(unit).toMatch(/^ExecStart=.*apps\/server\/bin\/axon\.js start --config \S+homeserver\.yaml$/m);
    expect(unit).toMatch(/^User=axon$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
  });

  it('nginx waits longer than the longest /events long-poll, forwards X-Forwarded-For and sizes bodies', () => {
    const conf = read('deploy/nginx.conf');
    const seconds = (name: string): number => Number(new RegExp(`^\\s*${name} (\\d+)s;`, 'm').exec(conf)?.[1]);
    expect(seconds('proxy_read_timeout') * 1000).toBeGreaterThan(DEFAULT_SYNC_OPTIONS.maxTimeoutMs);
    expect(seconds('proxy_send_timeout') * 1000).toBeGreaterThan(DEFAULT_SYNC_OPTIONS.maxTimeoutMs);
    expect(conf).toMatch(/proxy_set_header X-Forwarded-For \$remote_addr;/);
    const body = /client_max_body_size (\d+)M;/.exec(conf);
    expect(Number(body?.[1])).toBeGreaterThan(50);
    expect(conf).toMatch(/location \/_matrix \{/);
    expect(conf).not.toMatch(/location[^{]*_synapse\/metrics/);
    // Balanced braces: a cheap syntax check.
    expect(conf.split('{').length).toBe(conf.split('}').length);
  });
});

describe('docs/operations.md', () => {
  const doc = read('docs/operations.md');

  it('documents every config key', () => {
    const keys = configKeys(configSchema as unknown as Record<string, unknown>);
    expect(keys).toEqual(expect.arrayContaining(['server_name', 'listeners[].x_forwarded', 'database.args.synchronous', 'rc_message', 'enable_metrics', 'log_level']));
    // A section (`database`, `presence`) counts as documented through its keys (`database.name`).
    const missing = keys.filter((k) => !doc.includes(`\`${k}\``) && !doc.includes(`\`${k}.`));
    expect(missing, 'config keys missing from docs/operations.md').toEqual([]);
  });

  it('names every Axon metric', async () => {
    const names = (await new ServerMetrics().registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('axon_'));
    expect(names.length).toBeGreaterThanOrEqual(10);
    expect(names.filter((n) => !doc.includes(`\`${n}\``))).toEqual([]);
  });

  it('covers install, upgrades, backups and restore, monitoring, logs, rate limits, x_forwarded and the admin commands', () => {
    for (const heading of ['## Install', '## Configuration', '## Upgrades and migrations', '## Backups and restore', '## Monitoring', '## Logs', '## Rate limits', '## Behind a reverse proxy', '## Admin commands']) {
      expect(doc).toContain(heading);
    }
    for (const command of ['generate-config', 'start', 'register-user', 'reset-password', 'deactivate-user', 'list-users', 'backup']) {
      expect(doc).toContain(`axon ${command}`);
    }
    expect(doc).toMatch(/homeserver\.db-wal/);
    expect(doc).toContain('/_synapse/metrics');
    expect(read('README.md')).toContain('docs/operations.md');
  });
});
