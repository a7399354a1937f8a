#!/usr/bin/env node
// `pnpm bench [--smoke] [--only NAME,...] [--postgres URL|auto] [--processes N [--event-persister]] [--no-record] [--cpu-prof DIR] [--node-flag FLAG]...`
// (node flags for Axon's processes only, not the ceiling's; such runs are not recorded):
// starts Axon as an operator would (`--postgres auto`: on a throwaway PostgreSQL cluster, a fresh
// database per scenario; `--processes N`: N processes on that database), and the bare node:http ceiling, runs every scenario from a separate client process,
// prints medians and p99s, writes the raw JSON (bench-results/, not committed) and, for
// full runs, records a section in docs/benchmarks.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { findPgBin, startCluster, type Cluster } from '../../pg/cluster.mjs';
import { cpuMs, repoRoot, rssKiB, startAxon, startCeiling, treeCpuMs, type RunningAxon, type RunningProcess } from './processes.js';
import { section, table, type RunInfo } from './report.js';
import type { Row } from './scenario.js';
import { scenarios } from './scenarios/index.js';

interface Options { smoke: boolean; only: string[]; postgres?: string; processes: number; eventPersister: boolean; record: boolean; cpuProf?: string; nodeFlags: string[] }

function parseArgs(argv: string[]): Options {
  const o: Options = { smoke: false, only: [], processes: 1, eventPersister: false, record: true, nodeFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--smoke') o.smoke = true;
    else if (a === '--only') o.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--postgres') o.postgres = argv[++i];
    else if (a === '--processes') o.processes = Number(argv[++i]);
    else if (a === '--no-record') o.record = false;
    else if (a === '--event-persister') o.eventPersister = true;
    else if (a === '--cpu-prof') o.cpuProf = path.resolve(argv[++i] ?? 'bench-results/profiles');
    else if (a === '--node-flag') {
      const flag = argv[++i];
      if (!flag) throw new Error('--node-flag takes a node option, e.g. --node-flag --trace-gc');
      o.nodeFlags.push(flag);
    }
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.processes) || o.processes < 1) throw new Error('--processes takes a whole number >= 1');
  if (o.processes > 1 && !o.postgres) throw new Error('--processes N > 1 needs --postgres URL or --postgres auto');
  if (o.eventPersister && o.processes < 2) throw new Error('--event-persister needs --processes N > 1');
  return o;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** A fresh database on the throwaway cluster, so no scenario pays for another's data. */
function freshDatabase(cluster: Cluster, name: string): string {
  const url = new URL(cluster.url);
  const db = `bench_${name.replace(/\W/g, '_')}_${Date.now()}`;
  const r = spawnSync(path.join(findPgBin()!, 'createdb'), ['-h', url.hostname, '-p', url.port, '-U', decodeURIComponent(url.username), db], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`createdb ${db}: ${r.stderr || r.stdout}`);
  url.pathname = `/${db}`;
  return url.toString();
}

/**
 * The cluster's WAL flushes so far and the milliseconds they took, from one reading of
 * pg_stat_wal (PostgreSQL 14 to 17; 18 moved these figures to pg_stat_io). NaN where
 * there is no such figure: SQLite, no PostgreSQL binaries here, another version, or
 * `track_wal_io_timing` off (the time only; the throwaway cluster turns it on). The view
 * counts the whole cluster, and each backend publishes its counts about once a second, so
 * a reading over a few seconds is good to a second's flushes or so. A batch's commit holds
 * Axon's append lock until its flush is done: these say how much of the write path the
 * disk takes.
 */
function walFlushes(databaseUrl: string | undefined): { flushes: number; ms: number } {
  const none = { flushes: NaN, ms: NaN };
  const bin = databaseUrl ? findPgBin() : null;
  if (!databaseUrl || !bin) return none;
  const r = spawnSync(path.join(bin, 'psql'), ['-X', '-A', '-t', '-F', ' ', '-d', databaseUrl, '-c',
    "SELECT wal_sync, wal_sync_time, current_setting('track_wal_io_timing') FROM pg_stat_wal"], { encoding: 'utf8', timeout: 10_000 });
  const m = r.status === 0 ? /^(\d+) ([\d.]+) (on|off)\s*$/.exec(r.stdout.trim()) : null;
  return m ? { flushes: Number(m[1]), ms: m[3] === 'on' ? Number(m[2]) : NaN } : none;
}

/**
 * Times WAL flushes on the throwaway cluster, for the throughput figures. A setting, not
 * a start option: a PostgreSQL without it (before 14) must still start.
 */
function timeWalFlushes(cluster: Cluster): void {
  const bin = findPgBin();
  if (!bin) return;
  spawnSync(path.join(bin, 'psql'), ['-X', '-q', '-d', cluster.adminUrl,
    '-c', 'ALTER SYSTEM SET track_wal_io_timing = on', '-c', 'SELECT pg_reload_conf()'], { stdio: 'ignore', timeout: 10_000 });
}

/** The throwaway cluster's postmaster, whose children are the backends (for their CPU time). */
function postmasterPid(cluster: Cluster): number {
  try {
    return Number(readFileSync(path.join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return NaN;
  }
}

/** Runs one scenario in a fresh client process under a raised open-file limit. */
function runScenario(name: string, axon: RunningAxon, ceiling: RunningProcess, smoke: boolean, databaseUrl?: string, databasePid = NaN): Promise<Row[]> {
  const client = spawn('bash', ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec node "$@"', 'node',
    path.join(repoRoot, 'tools/bench/dist/client.js')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let wal = { flushes: NaN, ms: NaN };
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => { client.kill('SIGKILL'); reject(new Error(`${name}: timed out`)); }, smoke ? 120_000 : 900_000);
    client.on('message', (msg: { rows?: Row[]; error?: string; log?: string; question?: string; id?: number }) => {
      if (msg.log) console.log(`  ${name}: ${msg.log}`);
      else if (msg.question === 'server-rss-kib') client.send({ answer: sum(axon.pids.map(rssKiB)), id: msg.id });
      else if (msg.question === 'server-cpu-ms') client.send({ answer: sum(axon.pids.map(cpuMs)), id: msg.id });
      else if (msg.question === 'ceiling-cpu-ms') client.send({ answer: cpuMs(ceiling.pid), id: msg.id });
      else if (msg.question === 'ceiling-rss-kib') client.send({ answer: rssKiB(ceiling.pid), id: msg.id });
      else if (msg.question === 'database-wal-flushes') {
        // one reading for both figures: the ms are asked for right after, from this reading
        wal = walFlushes(databaseUrl);
        client.send({ answer: wal.flushes, id: msg.id });
      } else if (msg.question === 'database-wal-flush-ms') client.send({ answer: wal.ms, id: msg.id });
      // NaN unless the bench runs the cluster (--postgres auto): only then are its processes here to read
      else if (msg.question === 'database-cpu-ms') client.send({ answer: Number.isFinite(databasePid) ? treeCpuMs(databasePid) : NaN, id: msg.id });
      else if (msg.rows || msg.error) {
        clearTimeout(deadline);
        client.kill();
        if (msg.error) reject(new Error(`${name}: ${msg.error}`));
        else resolve(msg.rows!);
      }
    });
    client.once('exit', (code) => { clearTimeout(deadline); reject(new Error(`${name}: client exited ${code}`)); });
    client.send({ job: { scenario: name, baseUrls: axon.urls, metricsUrls: axon.metricsUrls, ceilingUrl: ceiling.url, smoke } });
  });
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const names = opts.only.length ? opts.only : Object.keys(scenarios);
  const processes = opts.processes === 1 ? '1 process'
    : `${opts.processes} processes${opts.eventPersister ? ', the first the event persister of the others' : ''}`;
  const database = opts.postgres
    ? `PostgreSQL${opts.postgres === 'auto' ? ' (throwaway cluster, default durability: fsync, synchronous_commit and full_page_writes on)' : ''}, ${processes}`
    : `SQLite, ${processes}`;
  console.log(`bench: ${opts.smoke ? 'smoke' : 'full'} run on ${database}: ${names.join(', ')}`);
  const rows: Row[] = [];
  const loadAtStart = loadavg()[0]!.toFixed(2);
  console.log(`bench: load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${availableParallelism()} CPUs`);
  let failed = false;
  let cluster: Cluster | undefined;
  if (opts.postgres === 'auto') {
    // PostgreSQL's default durability: every commit is flushed to disk before it is
    // acknowledged, which Axon's SQLite default (synchronous NORMAL) does not do
    cluster = await startCluster({ log: (m) => console.log(`bench: ${m}`), durable: true });
    timeWalFlushes(cluster);
  }
  const ceiling = await startCeiling();
  try {
    for (const name of names) {
      // a fresh server per scenario: no scenario pays for another's data
      const databaseUrl = cluster ? freshDatabase(cluster, name) : opts.postgres || undefined;
      const axon = await startAxon({
        ...(databaseUrl ? { database: databaseUrl } : {}),
        processes: opts.processes,
        eventPersister: opts.eventPersister,
        // one .cpuprofile per scenario's server, written when it stops
        nodeArgs: [...opts.nodeFlags, ...(opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(opts.cpuProf, name)}`] : [])],
      });
      try {
        const t0 = Date.now();
        rows.push(...await runScenario(name, axon, ceiling, opts.smoke, databaseUrl, cluster ? postmasterPid(cluster) : NaN));
        console.log(`bench: ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      } catch (err) {
        failed = true;
        console.error(`bench: ${(err as Error).message}`);
      } finally {
        await axon.stop();
      }
    }
  } finally {
    await ceiling.stop();
    await cluster?.stop();
  }
  console.log(`\n${table(rows)}\n`);
  const info: RunInfo = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    mode: opts.smoke ? 'smoke' : 'full',
    database,
    command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
    load: `${loadAtStart} / ${loadavg()[0]!.toFixed(2)}`,
  };
  const outDir = path.join(repoRoot, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, `${Date.now()}.json`), JSON.stringify({ ...info, rows }, null, 2));
  if (!opts.smoke && opts.record && !failed && !opts.cpuProf && opts.nodeFlags.length === 0) {
    const doc = path.join(repoRoot, 'docs/benchmarks.md');
    const marker = '<!-- runs: newest first -->';
    const text = existsSync(doc) ? readFileSync(doc, 'utf8') : `# Benchmarks\n\n${marker}\n`;
    writeFileSync(doc, text.includes(marker) ? text.replace(marker, `${marker}\n\n${section(info, rows)}`) : `${text}\n${section(info, rows)}`);
    console.log('bench: recorded in docs/benchmarks.md');
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
