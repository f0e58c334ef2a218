// Network and discovery faults for the fault-injection harness: two network namespaces joined by a veth
// pair (a sender in A, a receiver in B, TCP between them), with nftables drop rules (a partition, random
// loss) or a tc tbf rate limit on A's end; and a real etcd stopped (SIGTERM, SIGKILL) and restarted while
// nodes that discover each other through it keep talking. Used by scripts/reliability/faults.ts and
// tests/reliability/faults-net.test.ts.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdServer, hasEtcd } from '../../test-support/etcd.js';
import { NetnsPair, netnsSkipReason } from '../../test-support/netns.js';
import { check, PeerProcess, readSenderLog, runtimeLeftovers, sleep, type Tally } from './faults-lib.js';
import type { PeerConfig } from './faults-peer.js';

/** Why the netns scenarios cannot run here, or undefined when they can. */
export function netFaultsSkipReason(): string | undefined {
  return netnsSkipReason(['ip', 'nft', 'tc']);
}

/** The namespace pair the netns scenarios run on (`setup()` it, `dispose()` it). */
export function faultsPair(): NetnsPair {
  return new NetnsPair('flt');
}

/** Why the etcd scenario cannot run here, or undefined when it can. */
export function etcdSkipReason(): string | undefined {
  return hasEtcd ? undefined : 'needs an etcd binary: apt-get install -y etcd-server';
}

export interface NetScenarioResult {
  name: string;
  tally: Tally;
  recovered: boolean;
  problems: string[];
  /** What the sender's stream did while the fault was on. */
  duringFault: { resolved: number; rejected: number };
  ms: number;
}

export type NetFault =
  | { kind: 'partition'; afterMs: number; holdMs: number }
  | { kind: 'loss'; percent: number; afterMs: number; holdMs: number }
  | { kind: 'tbf'; rate: string; afterMs: number; holdMs: number };

/**
 * A sender in A streams requests to a receiver in B over TCP while `fault` is applied to A's veth; after
 * healing, a recovery probe; then the usual checks.
 */
export async function runNetScenario(
  pair: NetnsPair,
  fault: NetFault,
  streamMs = 8000,
): Promise<NetScenarioResult> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'tmesh-faults-net-'));
  const runtimeDir = join(dir, 'run');
  mkdirSync(runtimeDir);
  const suffix = randomBytes(3).toString('hex');
  const common = {
    mode: 'tcp' as const,
    runtimeDir,
    heartbeatMs: 250,
    deadAfterMs: 1500,
  };
  const rcfg: PeerConfig = {
    ...common,
    role: 'receiver',
    id: `nrecv-${suffix}`,
    machineId: `machine-b-${suffix}`,
    host: pair.ipB,
    port: 20_000 + Math.floor(Math.random() * 30_000),
    log: join(dir, 'receiver.log'),
  };
  const scfg: PeerConfig = {
    ...common,
    role: 'sender',
    id: `nsend-${suffix}`,
    peer: rcfg.id,
    machineId: `machine-a-${suffix}`,
    host: pair.ipA,
    log: join(dir, 'sender.log'),
    count: 50_000,
    streamMs,
    window: 4,
    intervalMs: 10,
    maxBytes: fault.kind === 'tbf' ? 2048 : 4096,
    timeoutMs: 4000,
    recoverMs: 30_000,
  };
  const problems: string[] = [];
  let recovered = false;
  const procs: PeerProcess[] = [];
  const duringFault = { resolved: 0, rejected: 0 };
  try {
    const r = new PeerProcess(rcfg, pair.b);
    procs.push(r);
    await r.waitFor('ready', 30_000);
    const s = new PeerProcess(scfg, pair.a);
    procs.push(s);
    await s.waitFor('sending', 30_000);
    await sleep(fault.afterMs);
    const before = readSenderLog(scfg.log);
    if (fault.kind === 'partition') pair.drop('');
    else if (fault.kind === 'loss') pair.drop(`meta l4proto tcp numgen random mod 100 < ${fault.percent}`);
    else pair.shape(fault.rate, '16kb', '400ms');
    try {
      await sleep(fault.holdMs);
    } finally {
      pair.heal();
    }
    const after = readSenderLog(scfg.log);
    duringFault.resolved = after.ok.size - before.ok.size;
    duringFault.rejected = after.err.size - before.err.size;
    await s.waitFor('streamed', streamMs + 60_000);
    s.probe();
    const rec = await s.waitFor('recovered', 40_000);
    recovered = rec.recovered === true;
    if (!recovered) problems.push('no request answered within 30 s after healing');
    await s.waitFor('done', 10_000);
    for (const p of procs) if (!p.alive) problems.push(`${p.config.role} died: ${p.stderr.slice(-1000)}`);
  } catch (e) {
    problems.push(String((e as Error)?.message ?? e));
  } finally {
    pair.heal();
    for (const p of procs)
      if (p.alive && !(await p.stop())) problems.push(`${p.config.role} did not close cleanly`);
  }
  const log = readSenderLog(scfg.log);
  log.instance = procs[1]?.find('ready')?.instance;
  const checked = check([{ log, killed: false }], [rcfg.log]);
  problems.push(...checked.problems);
  const left = runtimeLeftovers(runtimeDir);
  if (left.length) problems.push(`leaked runtime files: ${left.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
  return {
    name: fault.kind,
    tally: checked.tally,
    recovered,
    problems,
    duringFault,
    ms: Date.now() - started,
  };
}

export interface EtcdScenarioResult {
  tally: Tally;
  /** A node started after each restart found the running ones through etcd, and they found it. */
  rediscovered: { afterSigterm: boolean; afterSigkill: boolean };
  recovered: boolean;
  problems: string[];
  ms: number;
}

/**
 * Two nodes discover each other through etcd and stream requests; etcd is stopped with SIGTERM and
 * restarted, then with SIGKILL and restarted. Sends on the existing link must keep working throughout,
 * neither node may crash, and after each restart a new node must find the receiver through etcd while the
 * running sender must see the new node.
 */
export async function runEtcdScenario(): Promise<EtcdScenarioResult> {
  const started = Date.now();
  const etcd = new EtcdServer();
  const dir = mkdtempSync(join(tmpdir(), 'tmesh-faults-etcdn-'));
  const suffix = randomBytes(3).toString('hex');
  const problems: string[] = [];
  const procs: PeerProcess[] = [];
  const rediscovered = { afterSigterm: false, afterSigkill: false };
  let recovered = false;
  const senders: { log: string; proc: PeerProcess }[] = [];
  const rlog = join(dir, 'receiver.log');
  try {
    await etcd.start();
    const common = {
      mode: 'tcp' as const,
      runtimeDir: join(dir, 'unused'),
      etcd: { hosts: [etcd.url], prefix: `/tmesh-faults-${suffix}/`, ttlSeconds: 3 },
    };
    const r = new PeerProcess({ ...common, role: 'receiver', id: `erecv-${suffix}`, log: rlog });
    procs.push(r);
    await r.waitFor('ready', 30_000);
    const sender = (n: number, streamMs: number) => {
      const log = join(dir, `sender-${n}.log`);
      const p = new PeerProcess({
        ...common,
        role: 'sender',
        id: `esend${n}-${suffix}`,
        peer: r.config.id,
        log,
        count: 50_000,
        streamMs,
        window: 2,
        intervalMs: 20,
        timeoutMs: 4000,
        recoverMs: 20_000,
      });
      procs.push(p);
      senders.push({ log, proc: p });
      return p;
    };
    // Streams until both outages are over (then `finish`), at most 90 s.
    const s = sender(1, 90_000);
    await s.waitFor('sending', 30_000);
    for (const [signal, key] of [
      ['SIGTERM', 'afterSigterm'],
      ['SIGKILL', 'afterSigkill'],
    ] as const) {
      await sleep(1000);
      await etcd.stop(signal);
      await sleep(2000);
      await etcd.start();
      // A newcomer must find the receiver through etcd, and the running sender must see the newcomer.
      const n = sender(senders.length + 1, 500);
      await n.waitFor('sending', 30_000);
      const seen = await s.peersWithin(n.config.id, 15_000);
      n.probe();
      const rec = await n.waitFor('recovered', 30_000);
      rediscovered[key] = rec.recovered === true && seen;
      if (!rediscovered[key])
        problems.push(
          `after ${signal}: newcomer reached receiver ${rec.recovered}, sender saw newcomer ${seen}`,
        );
    }
    await sleep(1000);
    s.finish();
    await s.waitFor('streamed', 30_000);
    s.probe();
    recovered = (await s.waitFor('recovered', 30_000)).recovered === true;
    for (const p of senders) await p.proc.waitFor('done', 30_000);
    for (const p of procs) if (!p.alive) problems.push(`${p.config.id} died: ${p.stderr.slice(-1000)}`);
  } catch (e) {
    problems.push(String((e as Error)?.message ?? e));
  } finally {
    for (const p of procs)
      if (p.alive && !(await p.stop())) problems.push(`${p.config.id} did not close cleanly`);
    await etcd.dispose();
  }
  const logs = senders.map(({ log, proc }) => {
    const l = readSenderLog(log);
    l.instance = proc.find('ready')?.instance;
    return { log: l, killed: false };
  });
  const checked = check(logs, [rlog]);
  problems.push(...checked.problems);
  // The first sender's stream ran on its existing link through both outages: nothing may have failed.
  const firstRejected = logs[0] ? logs[0].log.err.size : 0;
  if (firstRejected) problems.push(`${firstRejected} sends on the existing link failed while etcd was away`);
  rmSync(dir, { recursive: true, force: true });
  return { tally: checked.tally, rediscovered, recovered, problems, ms: Date.now() - started };
}
