#!/usr/bin/env node
// A throwaway PostgreSQL cluster for tests and CI: initdb into a temp dir, start on a free
// port on 127.0.0.1 (Unix socket in the temp dir, fsync off unless `durable`), create a database, and stop
// and delete it all at exit, also on failure, on signals, and (through a watchdog process)
// when the owner is killed outright. No dependencies beyond Node and the PostgreSQL binaries.
//
//   node tools/pg/cluster.mjs                 start, print `export DATABASE_URL=...`, wait for Ctrl-C
//   node tools/pg/cluster.mjs -- CMD ARGS...  start, run CMD with DATABASE_URL set, stop, exit with CMD's code
//   node tools/pg/cluster.mjs --check         say whether PostgreSQL is available (exit 0) or not (exit 1)
//
// With DATABASE_URL already set, that server is used and nothing is started.
// PG_BIN overrides where initdb/pg_ctl are looked for (default: PostgreSQL 15's bin dir, then PATH).
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNUSER = '/usr/sbin/runuser';
const CANDIDATE_BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/local/pgsql/bin', '/usr/pgsql-15/bin'];
const HOW_TO = 'Install PostgreSQL 15 (Debian: apt-get install postgresql-15) or set DATABASE_URL=postgres://user:pass@host:port/db '
  + '(a role allowed to CREATE DATABASE), then run `pnpm test:postgres`.';

/** findPgBin's answer for the PG_BIN it was given: the lookup may start pg_config. */
let found;

/** The directory holding initdb, pg_ctl and createdb, or null; looked up once per PG_BIN. */
export function findPgBin() {
  if (found !== undefined && found.env === process.env.PG_BIN) return found.bin;
  const bin = lookUpPgBin();
  found = { env: process.env.PG_BIN, bin };
  return bin;
}

function lookUpPgBin() {
  const dirs = process.env.PG_BIN ? [process.env.PG_BIN] : [...CANDIDATE_BIN_DIRS];
  if (!process.env.PG_BIN) {
    const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
    if (pgConfig.status === 0) dirs.push(pgConfig.stdout.trim());
    for (const d of (process.env.PATH ?? '').split(path.delimiter)) if (d) dirs.push(d);
  }
  return dirs.find((d) => ['initdb', 'pg_ctl', 'createdb'].every((b) => existsSync(path.join(d, b)))) ?? null;
}

/** Whether a PostgreSQL server can be had: { ok, source: 'DATABASE_URL' | bin dir, reason, howTo }. */
export function availability() {
  if (process.env.DATABASE_URL) return { ok: true, source: 'DATABASE_URL', howTo: HOW_TO };
  const bin = findPgBin();
  if (!bin) return { ok: false, reason: 'no DATABASE_URL and no PostgreSQL binaries (initdb, pg_ctl) found', howTo: HOW_TO };
  if (isRoot() && !existsSync(RUNUSER)) return { ok: false, reason: `running as root and ${RUNUSER} is missing (initdb refuses root)`, howTo: HOW_TO };
  if (isRoot() && spawnSync('id', ['-u', 'postgres']).status !== 0) return { ok: false, reason: 'running as root and there is no postgres user', howTo: HOW_TO };
  return { ok: true, source: bin, howTo: HOW_TO };
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Runs a PostgreSQL binary, as the postgres user when we are root (initdb refuses root). */
function pgCommand(bin, name, args) {
  const exe = path.join(bin, name);
  return isRoot() ? [RUNUSER, ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
}

function run(bin, name, args, { allowFail = false } = {}) {
  const [cmd, argv] = pgCommand(bin, name, args);
  const r = spawnSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  if (!allowFail && r.status !== 0) {
    throw new Error(`${name} failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
  }
  return r;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set();
let hooksInstalled = false;

function installExitHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => { for (const c of [...live]) c.stopSync(); });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      for (const c of [...live]) c.stopSync();
      process.kill(process.pid, sig);
    });
  }
}

/**
 * Starts a cluster. Resolves to { url, adminUrl, port, dir, stop(), stopSync() }: `url` names a
 * fresh database `axon`, `adminUrl` the `postgres` database (for CREATE/DROP DATABASE).
 * `durable` keeps PostgreSQL's own durability settings (fsync, synchronous_commit and full
 * page writes on), for the bench, which measures PostgreSQL as operators run it (every
 * commit flushed before it is acknowledged); tests turn them off, as a throwaway cluster
 * loses nothing that matters in a crash.
 */
export async function startCluster({ database = 'axon', log = () => {}, durable = false } = {}) {
  const bin = findPgBin();
  if (!bin) throw new Error(`PostgreSQL binaries not found. ${HOW_TO}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'axon-pg-'));
  if (isRoot()) chownSync(dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout), Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout));
  const data = path.join(dir, 'data');
  const superuser = isRoot() ? 'postgres' : userInfo().username;
  let started = false;
  let watchdog = null;
  const cluster = {
    dir,
    port: 0,
    url: '',
    adminUrl: '',
    stopSync() {
      if (!live.delete(cluster)) return;
      if (started) run(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop'], { allowFail: true });
      try { watchdog?.kill('SIGKILL'); } catch { /* already gone */ }
      rmSync(dir, { recursive: true, force: true });
      log(`postgres: stopped and removed ${dir}`);
    },
    async stop() { cluster.stopSync(); },
  };
  live.add(cluster);
  installExitHooks();
  try {
    run(bin, 'initdb', ['-D', data, '-U', superuser, '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    // A free port can be taken between the probe and the bind: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} `
        + (durable ? '' : '-c fsync=off -c synchronous_commit=off -c full_page_writes=off ')
        + '-c max_connections=400 -c shared_buffers=64MB';
      const r = run(bin, 'pg_ctl', ['-D', data, '-l', path.join(dir, 'postgres.log'), '-w', '-t', '30', '-o', opts, 'start'], { allowFail: true });
      if (r.status === 0) {
        started = true;
        cluster.port = port;
        break;
      }
      if (attempt >= 3) {
        let tail = '';
        try { tail = readFileSync(path.join(dir, 'postgres.log'), 'utf8').slice(-2000); } catch { /* no log */ }
        throw new Error(`pg_ctl start failed: ${(r.stderr || r.stdout).trim()}\n${tail}`);
      }
    }
    watchdog = spawnWatchdog(bin, data, dir);
    run(bin, 'createdb', ['-h', '127.0.0.1', '-p', String(cluster.port), '-U', superuser, database]);
    cluster.url = `postgres://${superuser}@127.0.0.1:${cluster.port}/${database}`;
    cluster.adminUrl = `postgres://${superuser}@127.0.0.1:${cluster.port}/postgres`;
    log(`postgres: started ${cluster.url} (data in ${dir})`);
    return cluster;
  } catch (err) {
    cluster.stopSync();
    throw err;
  }
}

/** A detached process that stops the cluster if this process dies without cleaning up (SIGKILL). */
function spawnWatchdog(bin, data, dir) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--watchdog', String(process.pid), bin, data, dir], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child;
}

function watch(ownerPid, bin, data, dir) {
  const alive = () => { try { process.kill(ownerPid, 0); return true; } catch { return false; } };
  const timer = setInterval(() => {
    if (alive()) return;
    clearInterval(timer);
    run(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop'], { allowFail: true });
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }, 500);
}

async function main(argv) {
  if (argv[0] === '--watchdog') {
    const [, pid, bin, data, dir] = argv;
    watch(Number(pid), bin, data, dir);
    return;
  }
  if (argv[0] === '--check') {
    const a = availability();
    console.log(a.ok ? `PostgreSQL available (${a.source})` : `PostgreSQL NOT available: ${a.reason}. ${a.howTo}`);
    process.exit(a.ok ? 0 : 1);
  }
  const sep = argv.indexOf('--');
  const command = sep >= 0 ? argv.slice(sep + 1) : [];
  let cluster = null;
  let url = process.env.DATABASE_URL;
  if (!url) {
    cluster = await startCluster({ log: (m) => console.error(m) });
    url = cluster.url;
  }
  if (command.length === 0) {
    console.log(`export DATABASE_URL=${url}`);
    if (!cluster) return;
    console.error('postgres: running; Ctrl-C stops and removes it');
    setInterval(() => {}, 1 << 30);
    return;
  }
  const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env: { ...process.env, DATABASE_URL: url } });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 128 + 15 : 1))));
  await cluster?.stop();
  process.exit(code);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`postgres: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
