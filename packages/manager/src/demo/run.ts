import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, isTmeshError, sampleMessages } from '@tmesh/core';
import type { SelectionPolicy } from '@tmesh/selector';
import { createNode, type TmeshNode } from '../node.js';
import { GrpcBaselineClient, startGrpcBaselineServer } from './grpc-baseline.js';
import { type BaselineResult, type DemoReport, type RouteResult, renderHtml } from './report.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where report.json and report.html go. Default ./tmesh-demo-report. */
  outDir?: string;
  /** Shorter measurements (CI). */
  quick?: boolean;
  /** Path of the Rust peer binary; false to leave it out; default: build it with cargo if needed. */
  rustPeer?: string | false;
  /** Use network namespaces for the "other machine" peers when root (default true). */
  netns?: boolean;
  /** Called as each route finishes (the CLI draws a progress bar from it on a terminal). */
  onProgress?: (done: number, total: number) => void;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The tmesh binary that starts peer processes (bin/tmesh.mjs from the sources or the package). */
function tmeshBin(): string {
  for (const c of [join(here, '../../bin/tmesh.mjs'), join(here, '../bin/tmesh.mjs')])
    if (existsSync(c)) return c;
  throw new Error('cannot find bin/tmesh.mjs next to the manager package');
}

/** The repository root (for the Rust peer), if this runs from a checkout. */
function repoRoot(): string | undefined {
  let dir = here;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'Cargo.toml')) && existsSync(join(dir, 'examples/rust-peer'))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

interface Peer {
  id: string;
  proc: ChildProcess;
}

/**
 * Run the demo: start TypeScript nodes and the Rust peer as separate processes (the "other machine"
 * ones in their own network namespace when root), send real traffic over every route, and report per
 * route the strategy the selector chose, why, and the measured throughput and latency beside a plain
 * grpc-js baseline measured in the same run. Writes report.json and report.html.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const outDir = resolve(options.outDir ?? 'tmesh-demo-report');
  const runtimeDir = mkdtempSync(join(tmpdir(), 'tmesh-demo-'));
  const durationMs = options.quick ? 300 : 1200;
  const rttCount = options.quick ? 100 : 400;
  const peers: Peer[] = [];
  const topology: string[] = [];
  const cleanups: (() => void)[] = [];
  const localMachine = `demo-host-${process.pid}`;
  const remoteMachine = `demo-remote-${process.pid}`;

  // Where the "other machine" lives: a network namespace joined by a veth pair when root, else loopback.
  let remoteHost = '127.0.0.1';
  let nsExec: string[] = [];
  const canNetns =
    options.netns !== false && process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
  if (canNetns) {
    const ns = `tmdemo${process.pid}`;
    const hostIf = `tmh${process.pid % 100000}`;
    const nsIf = `tmn${process.pid % 100000}`;
    const octet = (process.pid % 200) + 20;
    const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    const setup = sh(
      `ip netns add ${ns} && ip link add ${hostIf} type veth peer name ${nsIf} && ip link set ${nsIf} netns ${ns} && ` +
        `ip addr add 10.213.${octet}.1/30 dev ${hostIf} && ip link set ${hostIf} up && ` +
        `ip netns exec ${ns} ip addr add 10.213.${octet}.2/30 dev ${nsIf} && ip netns exec ${ns} ip link set ${nsIf} up && ip netns exec ${ns} ip link set lo up`,
    );
    cleanups.push(() => {
      sh(`ip netns del ${ns} 2>/dev/null; ip link del ${hostIf} 2>/dev/null`);
    });
    if (setup.status === 0) {
      remoteHost = `10.213.${octet}.2`;
      nsExec = ['ip', 'netns', 'exec', ns];
      topology.push(
        `"other machine" peers run in network namespace ${ns} at ${remoteHost}, reached over a veth pair`,
      );
    } else {
      topology.push(
        `network namespace setup failed (${setup.stderr.trim()}); "other machine" peers use loopback with their own machine id`,
      );
    }
  } else {
    const why =
      options.netns === false ? 'network namespaces turned off (--no-netns)' : 'not root (or no iproute2)';
    topology.push(`${why}: "other machine" peers run on loopback with distinct machine ids`);
  }

  const startProcess = (
    id: string,
    argv: string[],
    env: Record<string, string>,
    inNs: boolean,
  ): Promise<Peer> => {
    const [cmd, ...args] = inNs && nsExec.length ? [...nsExec, ...argv] : argv;
    const proc = spawn(cmd!, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let errText = '';
    proc.stderr!.on('data', (d: Buffer) => {
      errText = (errText + d.toString()).slice(-2000);
    });
    const peer = { id, proc };
    peers.push(peer);
    return new Promise((resolvePeer, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${id} did not start within 60 s: ${errText}`)),
        60_000,
      );
      proc.stdout!.once('data', () => {
        clearTimeout(timer);
        resolvePeer(peer);
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${id} exited with ${code}: ${errText}`));
      });
    });
  };
  const tsPeer = (id: string, machine: string, remote: boolean, grpc = false) =>
    startProcess(
      id,
      [
        process.execPath,
        tmeshBin(),
        'node',
        '--sink',
        '--id',
        id,
        '--runtime-dir',
        runtimeDir,
        '--host',
        remote ? remoteHost : '127.0.0.1',
        ...(grpc ? ['--grpc'] : []),
      ],
      { TMESH_MACHINE_ID: machine },
      remote,
    );

  // The Rust peer: built from examples/rust-peer with cargo when needed (the first build takes a while).
  let rustBin: string | undefined;
  if (options.rustPeer !== false) {
    const root = repoRoot();
    rustBin =
      typeof options.rustPeer === 'string'
        ? options.rustPeer
        : root
          ? join(root, 'target/release/tmesh-rust-peer')
          : undefined;
    if (rustBin && !existsSync(rustBin) && root && typeof options.rustPeer !== 'string') {
      log(
        'building the Rust peer (cargo build --release -p tmesh-rust-peer; the first build takes a minute or two)...',
      );
      const b = spawnSync('cargo', ['build', '--release', '-p', 'tmesh-rust-peer'], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      if (b.status !== 0) rustBin = undefined;
    }
    if (rustBin && !existsSync(rustBin)) rustBin = undefined;
    topology.push(
      rustBin
        ? `Rust peer: ${rustBin}`
        : 'Rust peer not available (no cargo or no examples/rust-peer): Rust routes are skipped',
    );
  }
  const rustPeer = (id: string, machine: string, remote: boolean) =>
    startProcess(
      id,
      [
        rustBin!,
        '--id',
        id,
        '--runtime-dir',
        runtimeDir,
        '--host',
        remote ? remoteHost : '127.0.0.1',
        '--port',
        '0',
        '--machine-id',
        machine,
      ],
      {},
      remote,
    );

  const nodes: TmeshNode[] = [];
  const resultsSoFar: RouteResult[] = [];
  let baselineServer: Awaited<ReturnType<typeof startGrpcBaselineServer>> | undefined;
  let baselineClient: GrpcBaselineClient | undefined;
  try {
    log('starting peers...');
    await Promise.all([
      tsPeer('ts-local', localMachine, false),
      tsPeer('ts-remote', remoteMachine, true, true),
      ...(rustBin
        ? [rustPeer('rust-local', localMachine, false), rustPeer('rust-remote', remoteMachine, true)]
        : []),
    ]);
    topology.push(
      `driver node and ts-local, rust-local on machine ${localMachine}; ts-remote, rust-remote on ${remoteMachine}`,
    );

    const routes: { name: string; to: string; policy?: SelectionPolicy }[] = [
      { name: 'shm TS <-> TS', to: 'ts-local' },
      ...(rustBin ? [{ name: 'shm TS <-> Rust', to: 'rust-local' }] : []),
      { name: 'Unix socket TS <-> TS (shm off)', to: 'ts-local', policy: { disableShm: true } },
      { name: 'Swift wire TS <-> TS (other machine)', to: 'ts-remote', policy: { preferWire: 'swift' } },
      ...(rustBin ? [{ name: 'Rust wire TS <-> Rust (other machine)', to: 'rust-remote' }] : []),
      ...(rustBin
        ? [
            {
              name: 'universal TS <-> Rust (other machine)',
              to: 'rust-remote',
              policy: { force: 'universal' } as SelectionPolicy,
            },
          ]
        : [
            {
              name: 'universal TS <-> TS (other machine)',
              to: 'ts-remote',
              policy: { force: 'universal' } as SelectionPolicy,
            },
          ]),
      { name: 'gRPC fallback TS <-> TS (other machine)', to: 'ts-remote', policy: { force: 'grpc' } },
    ];

    const results = resultsSoFar;
    for (const [i, route] of routes.entries()) {
      options.onProgress?.(i, routes.length);
      log(`measuring ${route.name}...`);
      const node = await createNode({
        id: `demo-driver-${i}`,
        machineId: localMachine,
        types: [sampleMessages.FileChunk, sampleMessages.Metrics],
        discovery: { runtimeDir },
        ...(route.policy ? { policy: route.policy } : {}),
        transport: { unix: false, tcp: false },
      });
      nodes.push(node);
      results.push(await measureRoute(node, route.name, route.to, durationMs, rttCount));
      await node.close();
    }
    options.onProgress?.(routes.length, routes.length);

    log('measuring the plain gRPC baseline...');
    baselineServer = await startGrpcBaselineServer('127.0.0.1', 0);
    baselineClient = new GrpcBaselineClient(`127.0.0.1:${baselineServer.port}`);
    const baseline = await measureBaseline(baselineClient, durationMs, rttCount);

    const report: DemoReport = {
      generatedAt: new Date().toISOString(),
      machine: {
        cpus: availableParallelism(),
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
      },
      topology,
      routes: results,
      baseline,
    };
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(outDir, 'report.html'), renderHtml(report));
    log(`report written to ${join(outDir, 'report.json')} and ${join(outDir, 'report.html')}`);
    return report;
  } finally {
    baselineClient?.close();
    baselineServer?.server.forceShutdown();
    for (const n of nodes) await n.close().catch(() => {});
    for (const p of peers) p.proc.kill('SIGTERM');
    await Promise.all(
      peers.map((p) =>
        p.proc.exitCode === null
          ? new Promise((r) => {
              const t = setTimeout(() => {
                p.proc.kill('SIGKILL');
                r(undefined);
              }, 3000);
              p.proc.once('exit', () => {
                clearTimeout(t);
                r(undefined);
              });
            })
          : undefined,
      ),
    );
    for (const c of cleanups) c();
    rmSync(runtimeDir, { recursive: true, force: true });
    // Regions of this run's channels are unlinked by their owners; say so if one was left behind.
    const ours = new Set(resultsSoFar.flatMap((r) => (r.shmChannel ? [r.shmChannel] : [])));
    const left = existsSync('/dev/shm')
      ? readdirSync('/dev/shm').filter((f) => [...ours].some((name) => f.startsWith(`tmesh-${name}`)))
      : [];
    if (left.length)
      log(
        `note: shared-memory regions still present: ${left.join(', ')} (tmesh doctor --clean removes stale ones)`,
      );
  }
}

async function measureRoute(
  node: TmeshNode,
  name: string,
  to: string,
  durationMs: number,
  rttCount: number,
): Promise<RouteResult> {
  const report = (data = new Uint8Array(64)) =>
    node.request(to, sampleMessages.FileChunk, {
      path: 'report',
      offset: 0n,
      sequence: 0,
      last: false,
      data,
    });
  try {
    const first = await report();
    const before = (first.value as { counters: Map<string, bigint> }).counters;
    const rtts: number[] = [];
    for (let i = 0; i < rttCount; i++) {
      const t0 = process.hrtime.bigint();
      await report();
      rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    rtts.sort((a, b) => a - b);
    const data = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 0xff);
    let sent = 0;
    let crc = Number(before.get('crc') ?? 0n);
    const started = process.hrtime.bigint();
    while (Number(process.hrtime.bigint() - started) / 1e6 < durationMs && sent < 200_000) {
      await node.send(to, sampleMessages.FileChunk, {
        path: 'bulk',
        offset: BigInt(sent * data.length),
        sequence: sent,
        last: false,
        data,
      });
      crc = crc32(data, crc);
      sent++;
    }
    const after = (await report()).value as { counters: Map<string, bigint> };
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const peerInfo = node.peers().find((p) => p.info.id === to);
    const countDelta = Number(after.counters.get('count')! - before.get('count')!);
    const bytesDelta = Number(after.counters.get('bytes')! - before.get('bytes')!);
    return {
      name,
      from: node.info.id,
      to,
      strategy: peerInfo?.strategy ?? '?',
      route: peerInfo?.route ?? '?',
      explanation: peerInfo?.explanation ?? '',
      ...(peerInfo?.resource ? { shmChannel: peerInfo.resource } : {}),
      throughputMBps: (sent * data.length) / seconds / 1e6,
      rttP50Us: quantile(rtts, 0.5),
      rttP99Us: quantile(rtts, 0.99),
      messages: sent,
      verified:
        countDelta === sent && bytesDelta === sent * data.length && Number(after.counters.get('crc')) === crc,
    };
  } catch (e) {
    return {
      name,
      from: node.info.id,
      to,
      strategy: '?',
      route: '?',
      explanation: '',
      throughputMBps: Number.NaN,
      rttP50Us: Number.NaN,
      rttP99Us: Number.NaN,
      messages: 0,
      verified: false,
      error: isTmeshError(e) ? e.message : String(e),
    };
  }
}

async function measureBaseline(
  client: GrpcBaselineClient,
  durationMs: number,
  rttCount: number,
): Promise<BaselineResult> {
  const small = Buffer.alloc(64);
  await client.echo(small);
  const rtts: number[] = [];
  for (let i = 0; i < rttCount; i++) {
    const t0 = process.hrtime.bigint();
    await client.echo(small);
    rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  rtts.sort((a, b) => a - b);
  const up = await client.upload(Buffer.alloc(64 * 1024, 7), durationMs, 200_000);
  return {
    name: 'gRPC baseline (grpc-js)',
    throughputMBps: up.bytes / up.seconds / 1e6,
    rttP50Us: quantile(rtts, 0.5),
    rttP99Us: quantile(rtts, 0.99),
  };
}
