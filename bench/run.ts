// The side-by-side suite of issue 8: tmesh routes through the facade beside grpc-js, zeromq.js, raw Node
// sockets and the Rust peer, each side in its own process, interleaved rounds. Run from the repo root:
//   npx tsx bench/run.ts [--quick] [--rounds N] [--out DIR] [--md FILE] [--rust-peer PATH|none] [--profile NAME]
// Writes DIR/latest.json, DIR/chart.svg and the "Side-by-side suite" section of BENCHMARKS.md.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Command, PeerKind, PeerOptions, WorkloadResult } from './protocol.js';
import {
  type BroadcastRow,
  type Goal,
  type Row,
  renderMarkdown,
  renderSvg,
  type SuiteResult,
  spliceSection,
} from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const QUICK = flag('--quick');
const ROUNDS = Number(option('--rounds') ?? (QUICK ? 1 : 3));
const OUT = resolve(option('--out') ?? (QUICK ? join(tmpdir(), 'tmesh-bench-quick') : join(here, 'results')));
const MD = option('--md') ?? (QUICK ? undefined : join(root, 'BENCHMARKS.md'));
const PROFILE = option('--profile');
/** With --profile: the workloads to run (rtt, msgs64, kib4, mib1, broadcast), so a profile shows one at a time. */
const ONLY = option('--only')?.split(',');
const wants = (w: string) => !ONLY || ONLY.includes(w);
const SEED = 0x7e5d;
const settings = {
  rttCount: QUICK ? 300 : 3000,
  rttWarm: QUICK ? 50 : 300,
  onewayMs: QUICK ? 150 : 700,
  warmMs: QUICK ? 50 : 150,
  broadcastReceivers: 8,
};
const log = (l: string) => process.stderr.write(`${l}\n`);

// ---------------------------------------------------------------- the Rust peer
let rustBin: string | undefined = option('--rust-peer');
if (rustBin === 'none') rustBin = undefined;
else if (!rustBin) {
  rustBin = join(root, 'target/release/tmesh-rust-peer');
  if (!existsSync(rustBin) && !QUICK) {
    log('building the Rust peer (cargo build --release -p tmesh-rust-peer)...');
    spawnSync('cargo', ['build', '--release', '-p', 'tmesh-rust-peer'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  if (!existsSync(rustBin)) rustBin = undefined;
}

// ---------------------------------------------------------------- what is measured
interface System {
  name: string;
  group: 'tmesh' | 'peer';
  transport: 'shm' | 'unix' | 'tcp';
  kind: PeerKind;
  /** The server process: a peer.ts server of this kind, or the Rust peer. */
  server: 'peer' | 'rust';
  serverOptions?: Partial<PeerOptions>;
  clientOptions?: Partial<PeerOptions>;
  rttVariant?: string;
  oneway: boolean;
  rawBaseline: string;
}

const LOCAL = 'bench-host';
const REMOTE = 'bench-other-host';
const RAW_UNIX = 'raw Unix socket';
const RAW_TCP = 'raw TCP';
const GRPC_UNARY = 'grpc-js unary';
const GRPC_STREAM = 'grpc-js streaming';

const shm = (idle: 'spin' | 'adaptive' | 'park'): System => ({
  name: `tmesh shm '${idle}'`,
  group: 'tmesh',
  transport: 'shm',
  kind: 'tmesh',
  server: 'peer',
  serverOptions: { machineId: LOCAL, idle },
  clientOptions: { machineId: LOCAL, idle },
  oneway: true,
  rawBaseline: RAW_UNIX,
});
const bareShm = (idle: 'spin' | 'park'): System => ({
  name: `ShmChannel '${idle}' (no facade)`,
  group: 'tmesh',
  transport: 'shm',
  kind: 'shm-channel',
  server: 'peer',
  serverOptions: { idle },
  clientOptions: { idle },
  oneway: true,
  rawBaseline: RAW_UNIX,
});
const systems: System[] = [
  bareShm('spin'),
  bareShm('park'),
  shm('spin'),
  shm('adaptive'),
  shm('park'),
  ...(rustBin
    ? [
        {
          name: 'tmesh shm TS -> Rust peer',
          group: 'tmesh',
          transport: 'shm',
          kind: 'tmesh',
          server: 'rust',
          serverOptions: { machineId: LOCAL },
          clientOptions: { machineId: LOCAL },
          oneway: true,
          rawBaseline: RAW_UNIX,
        } satisfies System,
      ]
    : []),
  {
    name: 'tmesh Unix socket (shm off)',
    group: 'tmesh',
    transport: 'unix',
    kind: 'tmesh',
    server: 'peer',
    serverOptions: { machineId: LOCAL },
    clientOptions: { machineId: LOCAL, policy: { disableShm: true } },
    oneway: true,
    rawBaseline: RAW_UNIX,
  },
  {
    name: 'tmesh Swift wire (TCP)',
    group: 'tmesh',
    transport: 'tcp',
    kind: 'tmesh',
    server: 'peer',
    serverOptions: { machineId: REMOTE },
    clientOptions: { machineId: LOCAL, policy: { preferWire: 'swift' } },
    oneway: true,
    rawBaseline: RAW_TCP,
  },
  ...(rustBin
    ? [
        {
          name: 'tmesh Rust wire TS -> Rust peer (TCP)',
          group: 'tmesh',
          transport: 'tcp',
          kind: 'tmesh',
          server: 'rust',
          serverOptions: { machineId: REMOTE },
          clientOptions: { machineId: LOCAL },
          oneway: true,
          rawBaseline: RAW_TCP,
        } satisfies System,
      ]
    : []),
  {
    name: 'tmesh universal (TCP)',
    group: 'tmesh',
    transport: 'tcp',
    kind: 'tmesh',
    server: 'peer',
    serverOptions: { machineId: REMOTE },
    clientOptions: { machineId: LOCAL, policy: { force: 'universal' } },
    oneway: true,
    rawBaseline: RAW_TCP,
  },
  {
    name: 'tmesh gRPC fallback (TCP)',
    group: 'tmesh',
    transport: 'tcp',
    kind: 'tmesh',
    server: 'peer',
    serverOptions: { machineId: REMOTE, grpc: true },
    clientOptions: { machineId: LOCAL, policy: { force: 'grpc' } },
    oneway: true,
    rawBaseline: RAW_TCP,
  },
  peerSystem(RAW_UNIX, 'unix', 'raw-unix', RAW_UNIX),
  peerSystem(RAW_TCP, 'tcp', 'raw-tcp', RAW_TCP),
  peerSystem('zeromq.js ipc (REQ/REP, PUSH/PULL)', 'unix', 'zmq-ipc', RAW_UNIX),
  peerSystem('zeromq.js tcp (REQ/REP, PUSH/PULL)', 'tcp', 'zmq-tcp', RAW_TCP),
  { ...peerSystem(GRPC_UNARY, 'tcp', 'grpc', RAW_TCP), oneway: false },
  { ...peerSystem(GRPC_STREAM, 'tcp', 'grpc', RAW_TCP), rttVariant: 'stream' },
];

function peerSystem(name: string, transport: 'unix' | 'tcp', kind: PeerKind, raw: string): System {
  return { name, group: 'peer', transport, kind, server: 'peer', oneway: true, rawBaseline: raw };
}

/** Broadcast rows: the same kinds with 8 servers. shm uses 'park': 9 spinning processes on 2 cores would only measure the scheduler. */
const broadcastSystems: System[] = [
  { ...shm('park'), name: "tmesh shm 'park' broadcast" },
  { ...systems.find((s) => s.name === 'tmesh Unix socket (shm off)')!, name: 'tmesh Unix socket broadcast' },
  { ...peerSystem(RAW_UNIX, 'unix', 'raw-unix', RAW_UNIX), name: `${RAW_UNIX} x8` },
  { ...peerSystem(RAW_TCP, 'tcp', 'raw-tcp', RAW_TCP), name: `${RAW_TCP} x8` },
  { ...peerSystem('zeromq.js tcp PUSH x8', 'tcp', 'zmq-tcp', RAW_TCP) },
  { ...peerSystem(`${GRPC_STREAM} x8`, 'tcp', 'grpc', RAW_TCP) },
];

// ---------------------------------------------------------------- processes
interface Proc {
  proc: ChildProcess;
  next(): Promise<any>;
  send(cmd: Command): Promise<any>;
}

let seq = 0;
function startProc(argv: string[], label: string): Promise<Proc & { first: any }> {
  const [cmd, ...rest] = argv;
  const proc = spawn(cmd!, rest, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-3000);
  });
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else lines.push(l);
  });
  let exited: Error | undefined;
  const failWaiters = () => {
    exited = new Error(`${label} exited (${proc.exitCode ?? proc.signalCode}): ${err.trim().slice(-1500)}`);
    for (const w of waiting.splice(0)) w('');
  };
  proc.once('exit', failWaiters);
  const next = (timeoutMs = 120_000) =>
    new Promise<any>((res, rej) => {
      const l = lines.shift();
      if (l !== undefined) return res(JSON.parse(l));
      if (exited) return rej(exited);
      const t = setTimeout(
        () => rej(new Error(`${label}: no answer within ${timeoutMs} ms: ${err}`)),
        timeoutMs,
      );
      waiting.push((line) => {
        clearTimeout(t);
        if (!line) rej(exited ?? new Error(`${label} closed its output`));
        else {
          try {
            res(JSON.parse(line));
          } catch {
            rej(new Error(`${label} printed ${line}`));
          }
        }
      });
    });
  const p: Proc = {
    proc,
    next: () => next(),
    send: (c) => {
      proc.stdin!.write(`${JSON.stringify(c)}\n`);
      return next();
    },
  };
  return next(60_000).then((first) => ({ ...p, first }));
}

async function stopProc(p: Proc): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  const done = new Promise((r) => p.proc.once('exit', r));
  p.proc.stdin!.end();
  if (p.proc.spawnargs[0] === rustBin) p.proc.kill('SIGTERM');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

function nodeArgv(role: 'server' | 'client', kind: PeerKind, o: PeerOptions, name: string): string[] {
  const prof =
    PROFILE && name.includes(PROFILE) ? ['--cpu-prof', '--cpu-prof-dir', join(OUT, 'profiles', role)] : [];
  return [process.execPath, ...prof, '--import', 'tsx', join(here, 'peer.ts'), role, kind, JSON.stringify(o)];
}

/** VmHWM of a process that does not report its own (the Rust peer), in bytes. */
function vmHwm(pid: number | undefined): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function peakRss(p: Proc, rust: boolean): Promise<number> {
  if (rust) return vmHwm(p.proc.pid);
  const m = await p.send({ cmd: 'rss' });
  return Math.max(m.rss, m.maxRss);
}

interface Measured {
  rtt?: number[];
  msgs64?: number;
  kib4?: number;
  mib1?: number;
  rssClient: number;
  rssServer: number;
}

/** Start the server(s) and the client of `sys`, run its workloads, stop everything. */
async function runSystem(sys: System, servers: number, workloads: 'all' | 'broadcast'): Promise<Measured> {
  const runtimeDir = mkdtempSync(join(tmpdir(), 'tmesh-bench-'));
  const procs: Proc[] = [];
  const rustProcs = new Set<Proc>();
  try {
    const serverProcs: Proc[] = [];
    const targets: string[] = [];
    await Promise.all(
      Array.from({ length: servers }, async (_, i) => {
        const id = `bench-sink-${i}`;
        let p: Proc & { first: any };
        if (sys.server === 'rust') {
          p = await startProc(
            [
              rustBin!,
              ...['--id', id, '--runtime-dir', runtimeDir, '--host', '127.0.0.1', '--port', '0'],
              ...['--machine-id', sys.serverOptions?.machineId ?? LOCAL],
            ],
            `${sys.name} Rust peer`,
          ).catch((e) => {
            throw e;
          });
          rustProcs.add(p);
          targets[i] = id;
        } else {
          const o: PeerOptions = {
            targets: [],
            id,
            runtimeDir,
            path: join(runtimeDir, `s${i}-${seq++}.sock`),
            ...sys.serverOptions,
          };
          p = await startProc(nodeArgv('server', sys.kind, o, sys.name), `${sys.name} server`);
          targets[i] = sys.kind === 'tmesh' ? id : p.first.address;
        }
        procs.push(p);
        serverProcs.push(p);
      }),
    );
    const client = await startProc(
      nodeArgv('client', sys.kind, { targets, runtimeDir, ...sys.clientOptions }, sys.name),
      `${sys.name} client`,
    );
    procs.push(client);
    const out: Measured = { rssClient: 0, rssServer: 0 };
    const run = async (c: Command): Promise<WorkloadResult> => {
      const a = await client.send(c);
      if (!a.ok) throw new Error(a.error);
      return a.result;
    };
    const rate = async (size: number, unit: 'msgs' | 'MB') => {
      const res = (await run({
        cmd: 'oneway',
        size,
        seed: SEED + size,
        ms: settings.onewayMs,
        warmMs: settings.warmMs,
      })) as { msgs: number; bytes: number; seconds: number };
      return unit === 'msgs' ? res.msgs / res.seconds : res.bytes / res.seconds / 1e6;
    };
    if (workloads === 'broadcast') out.msgs64 = await rate(64, 'msgs');
    else {
      if (wants('rtt')) {
        const rtt = (await run({
          cmd: 'rtt',
          size: 64,
          seed: SEED,
          count: settings.rttCount,
          warm: settings.rttWarm,
          ...(sys.rttVariant ? { variant: sys.rttVariant } : {}),
        })) as { rttUs: number[] };
        out.rtt = rtt.rttUs;
      }
      if (sys.oneway && wants('msgs64')) out.msgs64 = await rate(64, 'msgs');
      if (sys.oneway && wants('kib4')) out.kib4 = await rate(4096, 'MB');
      if (sys.oneway && wants('mib1')) out.mib1 = await rate(1 << 20, 'MB');
    }
    out.rssClient = await peakRss(client, false);
    for (const s of serverProcs) out.rssServer = Math.max(out.rssServer, await peakRss(s, rustProcs.has(s)));
    return out;
  } finally {
    await Promise.all(procs.map(stopProc));
    rmSync(runtimeDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- statistics
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (s: number[], q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
const median = (xs: number[]) => pct(sorted(xs), 0.5);
const spread = (xs: number[]) => (xs.length ? ((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 100 : 0);
const MiB = 1024 * 1024;

// ---------------------------------------------------------------- profile summary
/** Top self-time frames of each .cpuprofile written under DIR/profiles (for the closing note). */
function topFrames(dir: string, n = 12): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const role of readdirSync(dir)) {
    for (const file of readdirSync(join(dir, role)).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))) {
      const prof = JSON.parse(readFileSync(join(dir, role, file), 'utf8')) as {
        nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
        samples: number[];
      };
      const byId = new Map(prof.nodes.map((x) => [x.id, x]));
      const self = new Map<string, number>();
      const files = new Map<string, number>();
      for (const id of prof.samples) {
        const cf = byId.get(id)!.callFrame;
        const file = cf.url.replace(/^.*\/(packages|node_modules|bench)\//, '$1/') || '(native)';
        const key = `${cf.functionName || '(anonymous)'} ${file}`;
        self.set(key, (self.get(key) ?? 0) + 1);
        files.set(file, (files.get(file) ?? 0) + 1);
      }
      const total = prof.samples.length;
      out.push(`${role} ${file}: ${total} samples`);
      for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n))
        out.push(`  ${((v / total) * 100).toFixed(1)}% ${k}`);
      out.push('  by file:');
      for (const [k, v] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 8))
        out.push(`    ${((v / total) * 100).toFixed(1)}% ${k}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  const startedAt = new Date();
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const selected = PROFILE ? systems.filter((s) => s.name.includes(PROFILE)) : systems;
  const selectedBroadcast = (
    PROFILE ? broadcastSystems.filter((s) => s.name.includes(PROFILE)) : broadcastSystems
  ).filter(() => wants('broadcast'));
  if (PROFILE) rmSync(join(OUT, 'profiles'), { recursive: true, force: true });
  const measured = new Map<string, Measured[]>();
  const errors = new Map<string, string>();
  const record = async (sys: System, servers: number, w: 'all' | 'broadcast') => {
    if (errors.has(sys.name)) return;
    log(`  ${sys.name}`);
    try {
      const m = await runSystem(sys, servers, w);
      measured.set(sys.name, [...(measured.get(sys.name) ?? []), m]);
    } catch (e) {
      errors.set(sys.name, (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300));
      log(`    failed: ${errors.get(sys.name)}`);
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    log(`round ${round + 1}/${ROUNDS}`);
    for (const sys of selected) await record(sys, 1, 'all');
    for (const sys of selectedBroadcast) await record(sys, settings.broadcastReceivers, 'broadcast');
  }

  const rows: Row[] = selected.map((sys) => {
    const ms = measured.get(sys.name) ?? [];
    const row: Row = {
      name: sys.name,
      group: sys.group,
      transport: sys.transport,
      ratios: {},
      rawBaseline: sys.rawBaseline,
    };
    if (errors.has(sys.name) || !ms.length) {
      row.error = errors.get(sys.name) ?? 'not measured';
      return row;
    }
    const pooled = sorted(ms.flatMap((m) => m.rtt ?? []));
    if (pooled.length)
      row.rtt = {
        p50: pct(pooled, 0.5),
        p99: pct(pooled, 0.99),
        p999: pct(pooled, 0.999),
        samples: pooled.length,
        spreadPct: spread(ms.map((m) => median(m.rtt ?? []))),
      };
    const rates = (k: 'msgs64' | 'kib4' | 'mib1') =>
      ms.map((m) => m[k]).filter((x): x is number => x !== undefined);
    const stat = (k: 'msgs64' | 'kib4' | 'mib1') => ({
      value: median(rates(k)),
      spreadPct: spread(rates(k)),
      rounds: rates(k),
    });
    if (rates('msgs64').length) {
      const { value, ...rest } = stat('msgs64');
      row.msgs64 = { perSecond: value, ...rest };
    }
    if (rates('kib4').length) {
      const { value, ...rest } = stat('kib4');
      row.kib4 = { mbPerSecond: value, ...rest };
    }
    if (rates('mib1').length) {
      const { value, ...rest } = stat('mib1');
      row.mib1 = { mbPerSecond: value, ...rest };
    }
    row.rssClientMiB = Math.max(...ms.map((m) => m.rssClient)) / MiB;
    row.rssServerMiB = Math.max(...ms.map((m) => m.rssServer)) / MiB;
    return row;
  });
  const byName = new Map(rows.map((x) => [x.name, x]));
  for (const row of rows) {
    const raw = byName.get(row.rawBaseline!);
    const unary = byName.get(GRPC_UNARY);
    const stream = byName.get(GRPC_STREAM);
    const q = row.ratios;
    const put = (k: string, a: number | undefined, b: number | undefined) => {
      if (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0)
        q[k] = a / b;
    };
    put('rttVsRaw', row.rtt?.p50, raw?.rtt?.p50);
    put('rttVsGrpc', row.rtt?.p50, unary?.rtt?.p50);
    put('msgs64VsRaw', row.msgs64?.perSecond, raw?.msgs64?.perSecond);
    put('msgs64VsGrpc', row.msgs64?.perSecond, stream?.msgs64?.perSecond);
    put('kib4VsRaw', row.kib4?.mbPerSecond, raw?.kib4?.mbPerSecond);
    put('kib4VsGrpc', row.kib4?.mbPerSecond, stream?.kib4?.mbPerSecond);
    put('mib1VsRaw', row.mib1?.mbPerSecond, raw?.mib1?.mbPerSecond);
    put('mib1VsGrpc', row.mib1?.mbPerSecond, stream?.mib1?.mbPerSecond);
  }

  const broadcast: BroadcastRow[] = selectedBroadcast.map((sys) => {
    const ms = measured.get(sys.name) ?? [];
    const rates = ms.map((m) => m.msgs64!);
    return {
      name: sys.name,
      transport: sys.transport,
      deliveredPerSecond: median(rates),
      spreadPct: spread(rates),
      rounds: rates,
      rssSenderMiB: Math.max(...ms.map((m) => m.rssClient)) / MiB,
      rssReceiverMaxMiB: Math.max(...ms.map((m) => m.rssServer)) / MiB,
      ratios: {},
      ...(errors.has(sys.name) || !ms.length ? { error: errors.get(sys.name) ?? 'not measured' } : {}),
    };
  });
  const bByName = new Map(broadcast.map((b) => [b.name, b]));
  for (const b of broadcast) {
    const raw = bByName.get(`${b.transport === 'tcp' ? RAW_TCP : RAW_UNIX} x8`);
    const grpc = bByName.get(`${GRPC_STREAM} x8`);
    if (raw && !raw.error && !b.error) b.ratios.vsRaw = b.deliveredPerSecond / raw.deliveredPerSecond;
    if (grpc && !grpc.error && !b.error) b.ratios.vsGrpc = b.deliveredPerSecond / grpc.deliveredPerSecond;
  }

  const goals: Goal[] = [];
  const isLayer = (r: Row) => r.name.startsWith('ShmChannel');
  const ok = (r: Row | undefined): r is Row => !!r && !r.error;
  const best = (pred: (r: Row) => boolean, get: (r: Row) => number | undefined) =>
    rows
      .filter((r) => ok(r) && r.group === 'tmesh' && !isLayer(r) && pred(r))
      .sort((a, b) => (get(b) ?? 0) - (get(a) ?? 0))[0];
  const goal = (
    text: string,
    a: Row | undefined,
    av: number | undefined,
    b: Row | undefined,
    bv: number | undefined,
    target: number,
    atMost = false,
  ) => {
    if (!ok(a) || !ok(b) || av === undefined || bv === undefined) return;
    const measuredRatio = av / bv;
    goals.push({
      goal: text,
      measured: measuredRatio,
      target: `${atMost ? '<=' : '>='} ${target}x`,
      met: atMost ? measuredRatio <= target : measuredRatio >= target,
      detail: `${a.name} vs ${b.name}`,
    });
  };
  const mib = (r: Row) => r.mib1?.mbPerSecond;
  const shmBest = best((r) => r.transport === 'shm', mib);
  goal(
    'shm 1 MiB >= 3x Node Unix socket',
    shmBest,
    shmBest && mib(shmBest),
    byName.get(RAW_UNIX),
    byName.get(RAW_UNIX)?.mib1?.mbPerSecond,
    3,
  );
  goal(
    'shm 1 MiB >= 20x grpc-js streaming',
    shmBest,
    shmBest && mib(shmBest),
    byName.get(GRPC_STREAM),
    byName.get(GRPC_STREAM)?.mib1?.mbPerSecond,
    20,
  );
  const spin = byName.get("tmesh shm 'spin'");
  goal(
    "shm 64 B RTT with 'spin' <= 0.15x Unix socket",
    spin,
    spin?.rtt?.p50,
    byName.get(RAW_UNIX),
    byName.get(RAW_UNIX)?.rtt?.p50,
    0.15,
    true,
  );
  const netBest = best((r) => r.transport === 'tcp', mib);
  goal(
    'network 1 MiB >= 0.9x raw TCP',
    netBest,
    netBest && mib(netBest),
    byName.get(RAW_TCP),
    byName.get(RAW_TCP)?.mib1?.mbPerSecond,
    0.9,
  );
  const m64 = (r: Row) => r.msgs64?.perSecond;
  const shm64 = best((r) => r.transport === 'shm', m64);
  goal(
    '64 B msgs/s >= 0.5x coalesced raw socket (shm vs Unix)',
    shm64,
    shm64 && m64(shm64),
    byName.get(RAW_UNIX),
    byName.get(RAW_UNIX)?.msgs64?.perSecond,
    0.5,
  );
  const unix = byName.get('tmesh Unix socket (shm off)');
  goal(
    '64 B msgs/s >= 0.5x coalesced raw socket (Unix)',
    unix,
    unix && m64(unix),
    byName.get(RAW_UNIX),
    byName.get(RAW_UNIX)?.msgs64?.perSecond,
    0.5,
  );
  const tcp64 = best((r) => r.transport === 'tcp', m64);
  goal(
    '64 B msgs/s >= 0.5x coalesced raw socket (TCP)',
    tcp64,
    tcp64 && m64(tcp64),
    byName.get(RAW_TCP),
    byName.get(RAW_TCP)?.msgs64?.perSecond,
    0.5,
  );

  // The same shm goals for the bare ShmChannel layer: separates what the ring gives from what the facade costs.
  const bareSpin = byName.get("ShmChannel 'spin' (no facade)");
  const barePark = byName.get("ShmChannel 'park' (no facade)");
  const layerBest = [bareSpin, barePark].filter(ok).sort((a, b) => (mib(b) ?? 0) - (mib(a) ?? 0))[0];
  const unixRow = byName.get(RAW_UNIX);
  goal(
    'layer: shm 1 MiB >= 3x Node Unix socket',
    layerBest,
    layerBest && mib(layerBest),
    unixRow,
    unixRow && mib(unixRow),
    3,
  );
  const streamRow = byName.get(GRPC_STREAM);
  goal(
    'layer: shm 1 MiB >= 20x grpc-js streaming',
    layerBest,
    layerBest && mib(layerBest),
    streamRow,
    streamRow && mib(streamRow),
    20,
  );
  goal(
    "layer: shm 64 B RTT with 'spin' <= 0.15x Unix socket",
    bareSpin,
    bareSpin?.rtt?.p50,
    unixRow,
    unixRow?.rtt?.p50,
    0.15,
    true,
  );
  const layer64 = [bareSpin, barePark].filter(ok).sort((a, b) => (m64(b) ?? 0) - (m64(a) ?? 0))[0];
  goal(
    'layer: 64 B msgs/s >= 0.5x coalesced raw socket (shm vs Unix)',
    layer64,
    layer64 && m64(layer64),
    unixRow,
    unixRow && m64(unixRow),
    0.5,
  );

  const cpu = cpus();
  const command = `npx tsx bench/run.ts ${args.join(' ')}`.trim();
  const result: SuiteResult = {
    generatedAt: startedAt.toISOString(),
    command: QUICK || args.length ? command : 'pnpm bench (npx tsx bench/run.ts)',
    quick: QUICK,
    rounds: ROUNDS,
    seed: SEED,
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      os: `${process.platform} ${release()} ${process.arch}`,
      node: process.version,
      loadAverage: load,
    },
    settings,
    rows,
    broadcast,
    goals,
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(OUT, 'chart.svg'), renderSvg(result));
  // Committed results follow the repo's formatter, so `biome check .` stays clean after a run.
  const biome = join(root, 'node_modules/.bin/biome');
  if (OUT.startsWith(`${root}/`) && existsSync(biome))
    spawnSync(biome, ['format', '--write', join(OUT, 'latest.json')], { cwd: root, stdio: 'ignore' });
  const md = renderMarkdown(result);
  if (MD) writeFileSync(MD, spliceSection(existsSync(MD) ? readFileSync(MD, 'utf8') : '# Benchmarks\n', md));
  process.stdout.write(`${md}\n`);
  log(`wrote ${join(OUT, 'latest.json')}, ${join(OUT, 'chart.svg')}${MD ? ` and ${MD}` : ''}`);
  if (PROFILE) for (const l of topFrames(join(OUT, 'profiles'))) log(l);
}

main().then(
  () => process.exit(0),
  (e) => {
    log(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
