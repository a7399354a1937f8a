import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const AXON = path.join(repoRoot, 'apps/server/bin/axon.js');
/** 10,000 waiting polls need 10,000 sockets in the server and in the client. */
const ULIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn)';

export interface RunningProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Runs a node script under a raised open-file limit; resolves once it prints its URL line. */
function spawnNode(args: string[], env: NodeJS.ProcessEnv, urlOf: (line: string) => string | undefined): Promise<RunningProcess> {
  const child = spawn('bash', ['-c', `${ULIMIT}; exec node "$@"`, 'node', ...args], {
    cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    let found = false;
    lines.on('line', (line) => {
      if (found) return;
      const url = urlOf(line);
      if (!url) return;
      found = true;
      // The rest of the output (Axon's access log) is read and dropped without being split
      // into lines: this process shares the machine's cores with the servers it measures.
      lines.close();
      child.stdout!.resume();
      resolve({
        url,
        pid: child.pid!,
        child,
        stop: () => new Promise<void>((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
        }),
      });
    });
    child.once('exit', (code) => { if (!found) reject(new Error(`process exited (${code}) before listening:\n${stderr}`)); });
  });
}

export interface AxonOptions {
  /** A postgres:// URL; SQLite in a fresh temp dir otherwise. */
  database?: string;
  /** Extra node flags for the server, e.g. ['--cpu-prof', '--cpu-prof-dir=DIR'] (`pnpm bench --cpu-prof DIR`). */
  nodeArgs?: string[];
  /**
   * How many `axon start` processes to run on the one database (PostgreSQL only), each with
   * the same config on port 0 (only the metrics listener's port differs). No load balancer:
   * the bench client spreads its requests over the processes' URLs itself.
   */
  processes?: number;
  /**
   * With several processes: the first is the event persister, and the others forward their
   * room messages to it (docs/scaling.md). Otherwise each process stores what it receives.
   */
  eventPersister?: boolean;
}

export interface RunningAxon {
  /** The first process's client and metrics URLs. */
  url: string;
  metricsUrl: string;
  /** One per process, in start order. */
  urls: string[];
  metricsUrls: string[];
  pids: number[];
  dataDir: string;
  stop(): Promise<void>;
}

/** Axon as an operator would run it (generated config), with rate limits out of the way. */
/** A TCP port free on loopback right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function startAxon(options: AxonOptions = {}): Promise<RunningAxon> {
  const count = options.processes ?? 1;
  if (count > 1 && !options.database) throw new Error('several processes need PostgreSQL (--postgres)');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'axon-bench-'));
  const configPath = path.join(dataDir, 'homeserver.yaml');
  const gen = spawn('node', [AXON, 'generate-config', '--server-name', 'bench.local', '--config-path', configPath,
    '--data-dir', dataDir, '--port', '0', '--enable-registration', ...(options.database ? ['--database', options.database] : [])],
  { cwd: repoRoot, stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => gen.once('exit', (c) => (c === 0 ? resolve() : reject(new Error(`generate-config exited ${c}`)))));
  const config = parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  for (const key of ['rc_message', 'rc_login', 'rc_registration']) config[key] = { per_second: 1_000_000, burst_count: 1_000_000 };
  // the waiting-polls scenario holds 100 polls per user (the default cap is 20)
  config['max_waiting_polls_per_user'] = 1_000;
  // a metrics listener, so scenarios can read the server's own gauges (waiting polls)
  config['enable_metrics'] = true;
  const listeners = config['listeners'] as unknown[];
  const persister = count > 1 && options.eventPersister === true;
  const replicationPort = persister ? await freePort() : 0;
  // every process streams its replication notices to the others from a replication listener (docs/scaling.md)
  if (count > 1) config['worker_replication_secret'] = randomBytes(16).toString('hex');
  const procs: RunningProcess[] = [];
  const metricsUrls: string[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // one after another: the first migrates the database, the others find it migrated
    for (let i = 0; i < count; i++) {
      const metricsPort = await freePort();
      const path_ = i === 0 ? configPath : path.join(dataDir, `homeserver-${i}.yaml`);
      const own = [...listeners, { port: metricsPort, bind_addresses: ['127.0.0.1'], type: 'metrics', x_forwarded: false }];
      if (count > 1) own.push({ port: persister && i === 0 ? replicationPort : 0, bind_addresses: ['127.0.0.1'], type: 'replication', x_forwarded: false });
      writeFileSync(path_, stringify({ ...config, listeners: own, ...(persister && i > 0 ? { event_persister: `http://127.0.0.1:${replicationPort}` } : {}) }));
      const proc = await spawnNode([...(options.nodeArgs ?? []), AXON, 'start', '--config', path_], { NODE_ENV: 'production', AXON_VALIDATE_RESPONSES: '' }, (line) => {
        try {
          const parsed = JSON.parse(line) as { msg?: string; url?: string };
          return parsed.msg === 'listening' ? parsed.url : undefined;
        } catch {
          return undefined;
        }
      });
      procs.push(proc);
      metricsUrls.push(`http://127.0.0.1:${metricsPort}`);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    url: procs[0]!.url,
    metricsUrl: metricsUrls[0]!,
    urls: procs.map((p) => p.url),
    metricsUrls,
    pids: procs.map((p) => p.pid),
    dataDir,
    stop: stopAll,
  };
}

/** The ceiling: a bare node:http server answering the same request shape with fixed JSON. */
export function startCeiling(): Promise<RunningProcess> {
  return spawnNode([path.join(repoRoot, 'tools/bench/ceiling-server.mjs')], {}, (line) => (line.startsWith('http://') ? line.trim() : undefined));
}

/** Resident memory of a process in KiB, from /proc. */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : Number.NaN;
}

/** The fields of /proc/PID/stat after the parenthesised command name (state is [0], ppid [1]). */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  // utime and stime are the 14th and 15th fields
  const fields = statFields(pid);
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * CPU time (user + system, in ms) of a process and everything under it: the living
 * descendants' own, and the reaped ones' (each parent's cutime and cstime). For the
 * PostgreSQL cluster's postmaster, whose backends are its children.
 */
export function treeCpuMs(pid: number): number {
  // one pass over /proc: each process's parent and its ticks (own, and its reaped children's)
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let f: string[];
    try {
      f = statFields(entry);
    } catch {
      continue; // exited meanwhile
    }
    const p = Number(entry);
    ticks.set(p, Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
    const ppid = Number(f[1]);
    const list = children.get(ppid);
    if (list) list.push(p);
    else children.set(ppid, [p]);
  }
  let total = 0;
  const visit = (p: number): void => {
    total += ticks.get(p) ?? 0;
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return (total * 1000) / 100;
}
