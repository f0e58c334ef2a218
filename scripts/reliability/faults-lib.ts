// Fault-injection harness: processes, logs and the checks every trial ends with. Used by
// scripts/reliability/faults.ts (100-trial runs) and tests/reliability/faults*.test.ts (bounded CI runs).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listRegions, ShmChannel } from '../../packages/shm-native/src/index.js';
import { freePort } from '../../test-support/ports.js';
import type { PeerConfig } from './faults-peer.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PEER = join(ROOT, 'scripts', 'reliability', 'faults-peer.ts');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A faults-peer.ts process (optionally inside a network namespace) and the JSON lines it printed. */
export class PeerProcess {
  readonly lines: Record<string, any>[] = [];
  readonly proc: ChildProcess;
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(
    readonly config: PeerConfig,
    netns?: string,
  ) {
    const args = ['--import', 'tsx', PEER, JSON.stringify(config)];
    this.proc = netns
      ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...args], { cwd: ROOT, stdio: 'pipe' })
      : spawn(process.execPath, args, { cwd: ROOT, stdio: 'pipe' });
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
    let buffered = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line));
        } catch {
          this.stderr += `stdout: ${line}\n`;
        }
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-8000);
    });
  }
  get pid(): number | undefined {
    return this.find('ready')?.pid;
  }
  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }
  find(key: string): Record<string, any> | undefined {
    return this.lines.find((l) => key in l);
  }
  /** Wait for a line with `key`; fails with the process's stderr when it exits first or `ms` pass. */
  async waitFor(key: string, ms: number): Promise<Record<string, any>> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const line = this.find(key);
      if (line) return line;
      if (!this.alive) break;
      await sleep(20);
    }
    throw new Error(
      `${this.config.role} ${this.config.id}: no "${key}" line within ${ms} ms (exit ${this.proc.exitCode ?? this.proc.signalCode}); stderr: ${this.stderr.slice(-2000)}`,
    );
  }
  /** Tell a sender to end its stream now. */
  finish(): void {
    this.proc.stdin!.write('finish\n');
  }
  /** Tell a sender to start its recovery probe once its stream is done. */
  probe(): void {
    this.proc.stdin!.write('probe\n');
  }
  /** Whether the node lists `peer` among its peers within `ms` (asks it every 200 ms). */
  async peersWithin(peer: string, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until && this.alive) {
      const before = this.lines.length;
      this.proc.stdin!.write('peers\n');
      await sleep(200);
      const answer = this.lines.slice(before).find((l) => 'peers' in l);
      if ((answer?.peers as string[] | undefined)?.includes(peer)) return true;
    }
    return false;
  }
  kill9(): void {
    if (this.alive) this.proc.kill('SIGKILL');
  }
  /** SIGTERM (graceful close), then SIGKILL after `ms`; resolves with whether it exited by itself with 0. */
  async stop(ms = 15_000): Promise<boolean> {
    if (!this.alive) return false;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.kill9(), ms);
    const { code } = await this.exited;
    clearTimeout(timer);
    return code === 0;
  }
}

/** What the sender logs say. */
export interface SenderLog {
  instance?: string;
  sent: Map<number, { crc: number; size: number }>;
  ok: Map<number, string>;
  err: Map<number, string>;
  /** Messages the sending node reported as undelivered after their `send` resolved ('U' lines). */
  undeliveredReported: number;
}

function readLines(path: string): { lines: string[]; torn: number } {
  if (!existsSync(path)) return { lines: [], torn: 0 };
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const last = lines.pop()!; // '' when the file ends with a complete line
  return { lines, torn: last === '' ? 0 : 1 };
}

export function readSenderLog(path: string): SenderLog {
  const out: SenderLog = { sent: new Map(), ok: new Map(), err: new Map(), undeliveredReported: 0 };
  for (const line of readLines(path).lines) {
    const [kind, seq, a, b] = line.split(' ');
    const s = Number(seq);
    if (kind === 'S') out.sent.set(s, { crc: Number(a), size: Number(b) });
    else if (kind === 'OK') out.ok.set(s, a!);
    else if (kind === 'ERR') out.err.set(s, a!);
    else if (kind === 'U') out.undeliveredReported += s;
  }
  return out;
}

export interface Delivery {
  instance: string;
  seq: number;
  crc: number;
  crcOk: boolean;
  route: string;
}

export function readReceiverLog(path: string): { deliveries: Delivery[]; torn: number } {
  const { lines, torn } = readLines(path);
  return {
    torn,
    // 'U' lines are the receiving node's own undelivered reports (replies it could not get acknowledged).
    deliveries: lines
      .filter((line) => !line.startsWith('U '))
      .map((line) => {
        const [instance, seq, crc, ok, route] = line.split(' ');
        return { instance: instance!, seq: Number(seq), crc: Number(crc), crcOk: ok === '1', route: route! };
      }),
  };
}

/** The figures and findings of one trial (or a sum of them). */
export interface Tally {
  /** Messages a sender logged before sending. */
  sent: number;
  /** Deliveries the receivers logged. */
  delivered: number;
  /** Sender saw a reply. */
  resolved: number;
  /** Sender saw an error (by code). */
  rejected: Record<string, number>;
  /**
   * In flight when their sender was killed: no one left to tell (may or may not have arrived). With
   * plain sends this includes messages whose `send` had resolved but that were still in the dead
   * sender's queue.
   */
  inFlightAtSenderDeath: number;
  /** Rejected, yet delivered once (delivery unknown, as documented). */
  rejectedButDelivered: number;
  /** Failures: each must be 0. */
  lost: number;
  duplicated: number;
  corrupt: number;
  unreported: number;
  /** Routes the replies came over. */
  routes: Record<string, number>;
  /** Messages senders' nodes reported undelivered after accepting them (NodeEvent 'undelivered'). */
  reportedUndelivered: number;
}

export function emptyTally(): Tally {
  return {
    sent: 0,
    delivered: 0,
    resolved: 0,
    rejected: {},
    inFlightAtSenderDeath: 0,
    rejectedButDelivered: 0,
    lost: 0,
    duplicated: 0,
    corrupt: 0,
    unreported: 0,
    routes: {},
    reportedUndelivered: 0,
  };
}

export function addTally(into: Tally, t: Tally): Tally {
  for (const k of [
    'sent',
    'delivered',
    'resolved',
    'inFlightAtSenderDeath',
    'rejectedButDelivered',
    'lost',
    'duplicated',
    'corrupt',
    'unreported',
    'reportedUndelivered',
  ] as const)
    into[k] += t[k];
  for (const [code, n] of Object.entries(t.rejected)) into.rejected[code] = (into.rejected[code] ?? 0) + n;
  for (const [route, n] of Object.entries(t.routes)) into.routes[route] = (into.routes[route] ?? 0) + n;
  return into;
}

/**
 * Compare what senders logged with what receivers logged. `killedSenders` are the instances whose process
 * was SIGKILLed: their unsettled messages are "in flight at sender death" instead of "unreported".
 */
export function check(
  senders: { log: SenderLog; killed: boolean }[],
  receiverLogs: string[],
): { tally: Tally; problems: string[] } {
  const tally = emptyTally();
  const problems: string[] = [];
  const delivered = new Map<string, Delivery[]>();
  for (const path of receiverLogs) {
    const { deliveries, torn } = readReceiverLog(path);
    if (torn) problems.push(`${path}: a torn last line (a kill between the bytes of one write)`);
    for (const d of deliveries) {
      tally.delivered++;
      const key = `${d.instance} ${d.seq}`;
      const list = delivered.get(key) ?? [];
      list.push(d);
      delivered.set(key, list);
    }
  }
  const known = new Set<string>();
  for (const { log, killed } of senders) {
    const instance = log.instance;
    if (!instance) continue;
    tally.reportedUndelivered += log.undeliveredReported;
    for (const [seq, { crc }] of log.sent) {
      tally.sent++;
      const key = `${instance} ${seq}`;
      known.add(key);
      const got = delivered.get(key) ?? [];
      if (got.length > 1) {
        tally.duplicated += got.length - 1;
        problems.push(`${key} delivered ${got.length} times`);
      }
      for (const d of got) {
        if (!d.crcOk || d.crc !== crc) {
          tally.corrupt++;
          problems.push(`${key} delivered corrupt (crc ${d.crc} ok=${d.crcOk}, sent ${crc})`);
        }
      }
      const ok = log.ok.get(seq);
      const err = log.err.get(seq);
      if (ok !== undefined) {
        tally.resolved++;
        tally.routes[ok] = (tally.routes[ok] ?? 0) + 1;
        if (got.length === 0 && killed) {
          // A plain send resolved, but the message was still in the killed sender's own queue.
          tally.inFlightAtSenderDeath++;
        } else if (got.length === 0) {
          tally.lost++;
          problems.push(`${key} resolved at the sender but never delivered`);
        }
      } else if (err !== undefined) {
        tally.rejected[err] = (tally.rejected[err] ?? 0) + 1;
        if (got.length > 0) tally.rejectedButDelivered++;
        if (!err.startsWith('E_') || err === 'E_BAD_ACK') problems.push(`${key} rejected with ${err}`);
      } else if (killed) {
        tally.inFlightAtSenderDeath++;
      } else {
        tally.unreported++;
        problems.push(`${key}: its sender survived but never heard what became of it`);
      }
    }
  }
  for (const [key, list] of delivered) {
    if (!known.has(key)) {
      tally.corrupt += list.length;
      problems.push(`${key} delivered but no sender logged it`);
    }
  }
  return { tally, problems };
}

/** Regions in /dev/shm with an end owned by one of `pids`. */
export function regionsOf(pids: number[]): string[] {
  try {
    return listRegions()
      .filter((r) => pids.includes(r.creatorPid) || pids.includes(r.openerPid))
      .map((r) => `${r.name} (creator ${r.creatorPid} ${r.creator}, opener ${r.openerPid} ${r.opener})`);
  } catch {
    return [];
  }
}

/**
 * The regions between two processes (one created it, the other opened it). A region the victim created
 * and died before anyone opened is not shared with the survivor: it is reclaimed as stale (below).
 */
export function regionsBetween(a: number, b: number): string[] {
  try {
    return listRegions()
      .filter((r) => (r.creatorPid === a && r.openerPid === b) || (r.creatorPid === b && r.openerPid === a))
      .map((r) => `${r.name} (creator ${r.creatorPid} ${r.creator}, opener ${r.openerPid} ${r.opener})`);
  } catch {
    return [];
  }
}

/**
 * Reclaim the stale regions (no end alive) that name one of `pids`, through the product's own path: a
 * `create` of a stale name removes it (docs/PROTOCOL.md 6.3); the new channel, with no peer, unlinks on
 * close. Per name, so other processes' stale regions (another test may be looking at one) stay.
 */
export function reclaimStaleRegionsOf(pids: number[]): string[] {
  const reclaimed: string[] = [];
  let regions: ReturnType<typeof listRegions> = [];
  try {
    regions = listRegions();
  } catch {
    return [];
  }
  for (const r of regions) {
    if (r.status !== 'stale' || !(pids.includes(r.creatorPid) || pids.includes(r.openerPid))) continue;
    try {
      ShmChannel.create(r.name, { capacity: 4096 }).close();
      reclaimed.push(`${r.name} (creator ${r.creatorPid} ${r.creator}, opener ${r.openerPid} ${r.opener})`);
    } catch {}
  }
  return reclaimed;
}

/** Doorbell FIFOs in /dev/shm whose region is gone (a region's bells must go with it). */
export function orphanBells(): string[] {
  if (!existsSync('/dev/shm')) return [];
  const files = new Set(readdirSync('/dev/shm'));
  return [...files].filter(
    (f) => /^tmesh-.*\.bell-[co]$/.test(f) && !files.has(f.replace(/\.bell-[co]$/, '')),
  );
}

/** Node record or socket files left in a runtime directory. */
export function runtimeLeftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.sock') || f.endsWith('.json') || f.includes('.tmp'));
}

export interface KillTrialOptions {
  mode: 'shm' | 'tcp';
  side: 'sender' | 'receiver';
  /** Bounds of the first sender's stream: messages and ms. */
  count?: number;
  streamMs?: number;
  window?: number;
  maxBytes?: number;
  /** Bounds of the random kill delay after the stream started (ms). */
  killFromMs?: number;
  killWithinMs?: number;
  /** How the sender sends (faults-peer.ts `api`): per-message requests (default) or plain sends. */
  api?: 'request' | 'send';
  /** Restart the killed side (default). Without, the survivor must report everything and leak nothing. */
  restart?: boolean;
  /** Upper bound of the random pause before the killed side is restarted (ms). */
  restartWithinMs?: number;
}

export interface TrialResult {
  mode: 'shm' | 'tcp';
  side: 'sender' | 'receiver';
  killAfterMs: number;
  restartAfterMs: number;
  tally: Tally;
  recovered: boolean;
  /** Regions still held, after recovery, that name the killed process. */
  deadPeerRegionsHeld: string[];
  restart: boolean;
  /** Without a restart: the dead node's socket file, left in the runtime directory. */
  deadNodeFiles: string[];
  /** Stale regions of this trial's processes reclaimed by the stale-region path after they were gone. */
  reclaimedStale: string[];
  /** Regions (after that) and runtime files left once every process is gone. */
  leakedRegions: string[];
  leakedFiles: string[];
  /** The longest graceful close (SIGTERM to exit) of a surviving process. */
  closeMs: number;
  /** Processes that did not close cleanly on SIGTERM. */
  unclean: string[];
  problems: string[];
  ms: number;
}

const rand = (max: number) => Math.floor(Math.random() * (max + 1));

/**
 * One kill -9 trial: start a receiver and a sender, SIGKILL one of them at a random moment of the stream,
 * restart it, let the stream and a recovery probe finish, then check the logs and look for leaks.
 */
export async function runKillTrial(options: KillTrialOptions): Promise<TrialResult> {
  const started = Date.now();
  const bellsBefore = new Set(orphanBells());
  const dir = mkdtempSync(join(tmpdir(), 'tmesh-faults-'));
  const runtimeDir = join(dir, 'run');
  const logs = join(dir, 'logs');
  execFileSync('mkdir', ['-p', runtimeDir, logs]);
  const port = options.mode === 'tcp' ? await freePort() : undefined;
  const suffix = randomBytes(3).toString('hex');
  const base = { mode: options.mode, runtimeDir };
  const receiverCfg = (n: number): PeerConfig => ({
    ...base,
    role: 'receiver',
    id: `recv-${suffix}`,
    log: join(logs, `receiver-${n}.log`),
    // The restarted receiver listens where the first one did, so the sender's link reconnects to it.
    ...(port ? { port } : {}),
  });
  const senderCfg = (n: number, count: number, streamMs: number): PeerConfig => ({
    ...base,
    role: 'sender',
    id: `send-${suffix}`,
    peer: `recv-${suffix}`,
    log: join(logs, `sender-${n}.log`),
    count,
    streamMs,
    ...(options.api ? { api: options.api } : {}),
    window: options.window ?? 8,
    maxBytes: options.maxBytes ?? 4096,
    timeoutMs: 3000,
    recoverMs: 20_000,
  });
  const all: PeerProcess[] = [];
  const start = (cfg: PeerConfig) => {
    const p = new PeerProcess(cfg);
    all.push(p);
    return p;
  };
  const streamMs = options.streamMs ?? 2500;
  // Somewhere in the first 60% of the stream, so the restart lands inside it too.
  const killFrom = options.killFromMs ?? 0;
  const killAfterMs = killFrom + rand((options.killWithinMs ?? Math.floor(streamMs * 0.6)) - killFrom);
  const restartAfterMs = rand(options.restartWithinMs ?? 400);
  const problems: string[] = [];
  const unclean: string[] = [];
  let recovered = false;
  let closeMs = 0;
  let deadPeerRegionsHeld: string[] = [];
  const senders: { cfg: PeerConfig; proc: PeerProcess; killed: boolean }[] = [];
  const receivers: PeerConfig[] = [];
  try {
    const r1 = start(receiverCfg(1));
    receivers.push(r1.config);
    await r1.waitFor('ready', 30_000);
    const s1 = start(senderCfg(1, options.count ?? 100_000, streamMs));
    senders.push({ cfg: s1.config, proc: s1, killed: false });
    await s1.waitFor('sending', 30_000);
    await sleep(killAfterMs);
    const victim = options.side === 'sender' ? s1 : r1;
    const victimPid = victim.pid!;
    victim.kill9();
    await victim.exited;
    if (options.side === 'sender') senders[0]!.killed = true;
    await sleep(restartAfterMs);
    let survivor: PeerProcess;
    let probe: PeerProcess | undefined;
    if (options.restart === false) {
      // The killed side stays dead: the survivor goes on (a surviving sender finishes its stream, every
      // message failing with a code) and must let go of what it shared with the dead process.
      survivor = options.side === 'sender' ? r1 : s1;
      if (options.side === 'receiver') await s1.waitFor('streamed', streamMs + 60_000);
      else await sleep(3000); // the shm liveness check needs up to 2 s to call a silent peer gone
    } else if (options.side === 'sender') {
      // A new sender process with the same node id: a short stream, then the recovery probe.
      const s2 = start(senderCfg(2, 200, 5000));
      senders.push({ cfg: s2.config, proc: s2, killed: false });
      survivor = r1;
      probe = s2;
    } else {
      const r2 = start(receiverCfg(2));
      receivers.push(r2.config);
      await r2.waitFor('ready', 30_000);
      survivor = s1;
      probe = s1;
    }
    if (probe) {
      probe.probe();
      const rec = await probe.waitFor('recovered', 90_000);
      recovered = rec.recovered === true;
      if (!recovered) problems.push(`no request answered within 20 s after the restart`);
      await probe.waitFor('done', 10_000);
    }
    // The survivor must not hold regions whose other end was the killed process.
    for (let i = 0; i < 30; i++) {
      deadPeerRegionsHeld = regionsBetween(victimPid, survivor.pid!);
      if (deadPeerRegionsHeld.length === 0) break;
      await sleep(100);
    }
    if (!survivor.alive) problems.push(`the surviving ${survivor.config.role} died: ${survivor.stderr}`);
  } catch (e) {
    problems.push(String((e as Error)?.message ?? e));
  } finally {
    for (const p of all) {
      if (!p.alive) continue;
      const t0 = Date.now();
      if (!(await p.stop())) unclean.push(`${p.config.role} ${p.config.id}: ${p.stderr.slice(-500)}`);
      closeMs = Math.max(closeMs, Date.now() - t0);
    }
  }
  const pids = all.map((p) => p.pid).filter((p): p is number => p !== undefined);
  // A process killed after creating a channel but before its peer opened it leaves a region no one else
  // knows the name of: the design reclaims it as stale (`tmesh doctor --clean`, or a create of the name).
  const reclaimedStale = reclaimStaleRegionsOf(pids);
  const leakedRegions = regionsOf(pids);
  const newOrphans = () => orphanBells().filter((b) => !bellsBefore.has(b));
  // Another process may be between unlinking a region and its bells: look twice.
  if (newOrphans().length) await sleep(300);
  // Without a restart, the dead node's own socket file stays: only a node of the same id removes it.
  const victimId = options.side === 'sender' ? `send-${suffix}` : `recv-${suffix}`;
  const left = runtimeLeftovers(runtimeDir);
  const deadNodeFiles =
    options.restart === false ? left.filter((f) => f === `${victimId}.sock`) : ([] as string[]);
  const leakedFiles = [
    ...left.filter((f) => !deadNodeFiles.includes(f)),
    ...newOrphans().map((b) => `/dev/shm/${b}`),
  ];
  const senderLogs = senders.map((s) => {
    const log = readSenderLog(s.cfg.log);
    log.instance = s.proc.find('ready')?.instance;
    return { log, killed: s.killed };
  });
  const checked = check(
    senderLogs,
    receivers.map((r) => r.log),
  );
  problems.push(...checked.problems);
  if (leakedRegions.length) problems.push(`leaked regions: ${leakedRegions.join(', ')}`);
  if (leakedFiles.length) problems.push(`leaked runtime files: ${leakedFiles.join(', ')}`);
  if (unclean.length) problems.push(`did not close cleanly: ${unclean.join('; ')}`);
  // Logs of a failed trial stay for a look (the path is in the problems).
  if (problems.length) problems.push(`logs kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  return {
    mode: options.mode,
    side: options.side,
    killAfterMs,
    restartAfterMs,
    tally: checked.tally,
    recovered,
    deadPeerRegionsHeld,
    reclaimedStale,
    restart: options.restart !== false,
    deadNodeFiles,
    leakedRegions,
    leakedFiles,
    unclean,
    closeMs,
    problems,
    ms: Date.now() - started,
  };
}
