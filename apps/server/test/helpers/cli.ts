import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RAISED_RATE_LIMIT, SHARED_SECRET } from './server.js';

export const AXON_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/axon.js');

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs `axon ARGS` to completion (uses the built dist/: run `pnpm build` first). */
export function runAxon(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AXON_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RunningAxon {
  child: ChildProcess;
  url: string;
  /** Every stdout line so far. */
  lines: string[];
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** `axon start --config FILE`, resolved once it logs the "listening" line. */
export function startAxon(configPath: string, env: NodeJS.ProcessEnv = {}): Promise<RunningAxon> {
  const child = spawn(process.execPath, [AXON_BIN, 'start', '--config', configPath], {
    env: { ...process.env, AXON_VALIDATE_RESPONSES: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no "listening" line in 10 s: ${stderr}`)); }, 10_000);
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        const parsed = JSON.parse(line) as { msg?: string; url?: string };
        if (parsed.msg === 'listening' && parsed.url) {
          clearTimeout(timer);
          resolve({ child, url: parsed.url, lines, stop: () => { child.kill('SIGTERM'); return exited; } });
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`axon start exited ${code}: ${stderr}`)); });
  });
}

/** A port that was free a moment ago (for configs that must name one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * A homeserver.yaml in `dir` for `axon start` processes on the PostgreSQL database at
 * `url` (each on a port of its own: port 0), with registration open and rate limits
 * raised; returns its path.
 */
export function writePostgresConfig(dir: string, url: string, cpMax: number, options: PostgresConfigOptions = {}): string {
  const config = path.join(dir, options.name ?? 'homeserver.yaml');
  // JSON is YAML
  writeFileSync(config, JSON.stringify({
    server_name: 'localhost',
    listeners: [{ port: 0, bind_addresses: ['127.0.0.1'] }, ...(options.listeners ?? [])],
    database: { name: 'postgres', args: { url, cp_max: cpMax } },
    enable_registration: true,
    registration_shared_secret: SHARED_SECRET,
    media_store_path: path.join(dir, 'media'),
    rc_message: RAISED_RATE_LIMIT, rc_login: RAISED_RATE_LIMIT, rc_registration: RAISED_RATE_LIMIT,
    ...options.extra,
  }));
  return config;
}

export interface PostgresConfigOptions {
  /** The file's name in `dir` (homeserver.yaml by default). */
  name?: string;
  /** Listeners besides the client one. */
  listeners?: Record<string, unknown>[];
  /** Top-level keys merged in. */
  extra?: Record<string, unknown>;
}

export const REPLICATION_SECRET = 'test-replication-secret';

/**
 * Configs for processes on one database where the first is the event persister and the
 * others forward their room messages to it (docs/scaling.md), each with a metrics listener:
 * the persister's config, one per forwarder, and every process's metrics URL (persister first).
 */
export async function writePersisterConfigs(dir: string, url: string, cpMax: number, forwarders: number): Promise<{ persister: string; forwarders: string[]; metricsUrls: string[] }> {
  const replicationPort = await freePort();
  const metricsPorts: number[] = [];
  for (let i = 0; i <= forwarders; i++) metricsPorts.push(await freePort());
  const metrics = (i: number) => ({ port: metricsPorts[i]!, bind_addresses: ['127.0.0.1'], type: 'metrics' });
  const extra = { worker_replication_secret: REPLICATION_SECRET, enable_metrics: true };
  return {
    persister: writePostgresConfig(dir, url, cpMax, {
      name: 'persister.yaml', extra,
      listeners: [{ port: replicationPort, bind_addresses: ['127.0.0.1'], type: 'replication' }, metrics(0)],
    }),
    forwarders: Array.from({ length: forwarders }, (_, i) => writePostgresConfig(dir, url, cpMax, {
      name: `forwarder-${i + 1}.yaml`, listeners: [metrics(i + 1)],
      extra: { ...extra, event_persister: `http://127.0.0.1:${replicationPort}` },
    })),
    metricsUrls: metricsPorts.map((p) => `http://127.0.0.1:${p}`),
  };
}

/** A sample on a process's metrics listener, e.g. `axon_events_persisted_total` (0 when it has none yet). */
export async function metricSample(metricsUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/_synapse/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}
