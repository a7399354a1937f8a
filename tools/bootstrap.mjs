#!/usr/bin/env node
// The README's two commands (`npm start`, `npm test`) land here. They need nothing but
// Node 20 and npm: this installs the pinned pnpm, the workspace, and builds it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PNPM = '12.4.2';
const env = {
  ...process.env,
  TURBO_TELEMETRY_DISABLED: '1',
  DO_NOT_TRACK: '1',
  TURBO_PRINT_VERSION_DISABLED: '1',
};
// better-sqlite3 compiles from source here; node-gyp must use the local headers
// instead of downloading them.
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node_version.h')) env.npm_config_nodedir = '/usr';

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env, ...options });
  if (r.error) throw r.error;
  return r.status ?? 1;
}
function must(cmd, args) {
  const code = run(cmd, args);
  if (code !== 0) {
    console.error(`axon: \`${cmd} ${args.join(' ')}\` failed (exit ${code})`);
    process.exit(code);
  }
}
function pnpmVersion() {
  const r = spawnSync('pnpm', ['--version'], { env, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function install() {
  if (pnpmVersion() !== PNPM) {
    console.log(`axon: installing pnpm ${PNPM} with npm`);
    must('npm', ['install', '-g', '--allow-scripts=pnpm', `pnpm@${PNPM}`]);
  }
  must('pnpm', ['install', '--frozen-lockfile']);
  must('pnpm', ['turbo', 'run', 'build', '--output-logs=errors-only']);
}

const command = process.argv[2];
if (command === 'install') {
  install();
} else if (command === 'start') {
  install();
  const config = process.env.AXON_CONFIG ?? path.join(root, 'data', 'homeserver.yaml');
  if (!existsSync(config)) {
    mkdirSync(path.dirname(config), { recursive: true });
    must('node', ['apps/server/bin/axon.js', 'generate-config', '--server-name', 'localhost',
      '--config-path', config, '--data-dir', path.dirname(config), '--enable-registration']);
  }
  process.exit(run('node', ['apps/server/bin/axon.js', 'start', '--config', config]));
} else if (command === 'test') {
  install();
  must('pnpm', ['codegen', '--check']);
  must('pnpm', ['turbo', 'run', 'typecheck', '--output-logs=errors-only']);
  // The PostgreSQL run of the server suite is `pnpm test:postgres` (CI runs it after this).
  // Where it cannot run, say so loudly: a skipped test in the summary and a banner.
  const { availability } = await import('./pg/cluster.mjs');
  const pgAvailable = availability();
  const vitestEnv = { ...env };
  if (!pgAvailable.ok && !env.AXON_TEST_POSTGRES) {
    vitestEnv.AXON_TEST_POSTGRES = 'auto';
    console.warn(`\naxon: *** the PostgreSQL suite will NOT run: ${pgAvailable.reason}. ${pgAvailable.howTo} ***\n`);
  }
  // vitest runs last: its closing line is the summary CI reads
  process.exit(run('pnpm', ['exec', 'vitest', 'run'], { env: vitestEnv }));
} else {
  console.error('usage: node tools/bootstrap.mjs install|start|test');
  process.exit(2);
}
