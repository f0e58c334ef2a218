#!/usr/bin/env node
// The README's two commands land here, so that a fresh machine with only Node 20, npm and cargo works:
//   npm start  -> install from the lockfile, build everything (the native addon too), run the demo
//   npm test   -> install if needed, build, lint, typecheck, vitest and cargo test
// pnpm itself comes through npx at the pinned version (corepack fails signature checks on this machine).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM = ['--yes', 'pnpm@12.4.2'];
const job = process.argv[2];
const rest = process.argv.slice(3);

function run(cmd, args, what) {
  const started = Date.now();
  process.stderr.write(`\n▶ ${what}: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '1', TURBO_TELEMETRY_DISABLED: '1' },
  });
  if (r.error) {
    process.stderr.write(`✖ ${what} could not start: ${r.error.message}\n`);
    process.exit(1);
  }
  if (r.status !== 0) {
    process.stderr.write(
      `✖ ${what} failed (exit ${r.status ?? r.signal}) after ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    process.exit(r.status ?? 1);
  }
  process.stderr.write(`✔ ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
const pnpm = (args, what) => run('npx', [...PNPM, ...args], what);

const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

// What the tests need from outside npm: Python's msgpack (the independent MessagePack implementation the
// Swift-wire tests check against) and, as root on Debian, iproute2 and nftables for the network-namespace tests and etcd-server
// for the discovery tests (they start their own etcd on loopback), openssl for the TLS tests.
function systemDeps() {
  if (!has('python3', ['-c', 'import msgpack'])) {
    run(
      'python3',
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', 'msgpack==1.1.2'],
      'install Python msgpack (test peer)',
    );
  }
  const isRoot = process.getuid?.() === 0;
  const missing = [
    ['ip', 'iproute2'],
    ['tc', 'iproute2'],
    ['nft', 'nftables'],
    ['etcd', 'etcd-server'],
    ['openssl', 'openssl'],
    ['chromium', 'chromium'],
    ['zstd', 'zstd'], // the reference zstd CLI checks the addon's zstd frames (shm-native compress test)
  ].filter(([cmd]) => !has('sh', ['-c', `command -v ${cmd}`]));
  if (missing.length > 0 && isRoot && has('sh', ['-c', 'command -v apt-get'])) {
    const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
    run(
      'sh',
      [
        '-c',
        `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${pkgs.join(' ')}`,
      ],
      `install ${pkgs.join(', ')}`,
    );
  } else if (missing.length > 0) {
    process.stderr.write(
      `note: ${missing.map(([c]) => c).join(', ')} missing and not root: network-namespace tests will skip\n`,
    );
  }
}

function install() {
  // --frozen-lockfile: CI and fresh clones get exactly the versions in pnpm-lock.yaml.
  pnpm(['install', '--frozen-lockfile'], 'install dependencies');
}

function build() {
  pnpm(['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], 'build packages and the native addon');
}

// The bounded fuzz smoke (RELIABILITY.md, "Fuzzing"): every cargo-fuzz target in fuzz/ for a few seconds,
// starting from the committed corpus and regression inputs (the TypeScript fuzzers ran in vitest above).
// The script installs the nightly toolchain and cargo-fuzz when missing. TMESH_FUZZ_SECONDS=0 skips it.
function fuzzSmoke() {
  const seconds = process.env.TMESH_FUZZ_SECONDS ?? '5';
  if (seconds === '0') return;
  run(
    'sh',
    ['-c', `TMESH_FUZZ_RUNS=0 bash scripts/fuzz-long.sh ${Number(seconds)}`],
    `fuzz smoke (${seconds} s per target)`,
  );
}

switch (job) {
  case 'demo':
    systemDeps();
    install();
    build();
    pnpm(['--filter', '@tmesh/examples', 'run', 'demo', ...rest], 'demo');
    break;
  case 'test':
    systemDeps();
    if (!existsSync(join(root, 'node_modules', '.pnpm')) || process.env.CI) install();
    build();
    pnpm(['exec', 'biome', 'check', '.'], 'lint');
    pnpm(['exec', 'turbo', 'run', 'typecheck', '--output-logs=errors-only'], 'typecheck');
    pnpm(['exec', 'vitest', 'run', ...rest], 'vitest');
    run('cargo', ['test', '--workspace', '--release', '--quiet'], 'cargo test');
    // tmesh-shm's macOS and Windows platform code: clippy for both targets, its tests run under wine.
    run('bash', ['scripts/shm-cross-check.sh'], 'shm-native on macOS and Windows targets');
    fuzzSmoke();
    pnpm(['exec', 'turbo', 'run', 'publint', '--output-logs=errors-only'], 'publint on every packed package');
    break;
  default:
    process.stderr.write('usage: node scripts/tmesh-run.mjs demo|test [args...]\n');
    process.exit(2);
}
