// The soak (RELIABILITY.md, "Soak"): `senders` sender processes each send `messages` SoakMsg through the
// @tmesh/manager facade to one of four receivers, one per route (shared memory, Unix socket, TCP, TLS 1.3
// with pre-shared keys), so every route carries a quarter of the senders. Each receiver checks per-sender
// order, count and CRC-32 against what the sender reports; every process samples its RSS once a second
// and the soak reports the RSS slope over the second half of each process's active time.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SoakPeerConfig, SoakRoute } from './soak-peer.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const PEER = join(HERE, 'soak-peer.ts');
export const ROUTES: SoakRoute[] = ['shm', 'unix', 'tcp', 'tls'];

export interface SoakOptions {
  senders: number;
  messages: number;
  /** Whole run bound: everything is killed and the run fails after this long. */
  maxSeconds: number;
  /** Sends in flight per sender. */
  window?: number;
  /** Routes to spread senders over (default all four). */
  routes?: SoakRoute[];
  /** Called with a progress line every few seconds. */
  progress?: (line: string) => void;
}

/** RSS samples of one process and the least-squares slope over the second half of its active time. */
export interface RssReport {
  process: string;
  samples: number;
  firstMiB: number;
  midMiB: number;
  lastMiB: number;
  maxMiB: number;
  /** Slope over the second half, MiB per minute. */
  slopeMiBPerMin: number;
  /** slope x duration of the second half: what the trend added over it, MiB. */
  growthMiB: number;
  /** Highest RSS of the last quarter minus the highest of the third quarter (GC sawtooth cancels out), MiB. */
  peakGrowthMiB: number;
  /** peakGrowthMiB within max(16 MiB, 10 % of midMiB). */
  flat: boolean;
}

export interface SenderReport {
  id: string;
  route: string;
  sent: number;
  received: number;
  crcOk: boolean;
  orderErrors: number;
  seconds: number;
}

export interface SoakResult {
  ok: boolean;
  problems: string[];
  senders: number;
  messagesPerSender: number;
  totalMessages: number;
  seconds: number;
  /** Delivered messages per second, all senders together, from the first send to the last delivery. */
  rate: number;
  /** Per route: senders, messages delivered, rate at its receiver (first to last delivery, 1 s resolution). */
  perRoute: Record<string, { senders: number; messages: number; rate: number }>;
  perSender: SenderReport[];
  rss: RssReport[];
  flatBound: string;
}

interface Sample {
  t: number;
  rss: number;
}

interface Proc {
  name: string;
  child: ChildProcess;
  samples: Sample[];
  /** t (process clock) at which it started working: a receiver's first delivery. */
  activeFrom?: number;
  /** t (process clock) at which it stopped working: a sender's done line, a receiver's last delivery. */
  activeUntil?: number;
  /** Messages a receiver expects in all. */
  expect?: number;
  lines: Record<string, unknown>[];
  /** Node events other than the first route choice (fallbacks, failures, transports gone). */
  events: string[];
  waiters: ((line: Record<string, unknown>) => boolean)[];
  stderr: string[];
}

const MiB = 1024 * 1024;

export function rssReport(name: string, all: Sample[], activeFrom?: number, activeUntil?: number): RssReport {
  const samples = all.filter(
    (s) =>
      (activeFrom === undefined || s.t >= activeFrom) && (activeUntil === undefined || s.t <= activeUntil),
  );
  const use = samples.length >= 4 ? samples : all;
  const t0 = use[0]?.t ?? 0;
  const t1 = use[use.length - 1]?.t ?? 0;
  const mid = (t0 + t1) / 2;
  const half = use.filter((s) => s.t >= mid);
  let slope = 0;
  if (half.length >= 2) {
    const n = half.length;
    const mt = half.reduce((a, s) => a + s.t, 0) / n;
    const mr = half.reduce((a, s) => a + s.rss, 0) / n;
    let num = 0;
    let den = 0;
    for (const s of half) {
      num += (s.t - mt) * (s.rss - mr);
      den += (s.t - mt) ** 2;
    }
    slope = den > 0 ? num / den : 0; // bytes per second
  }
  const midSample = half[0] ?? use[0];
  const q3 = use.filter((s) => s.t >= mid && s.t < (mid + t1) / 2);
  const q4 = use.filter((s) => s.t >= (mid + t1) / 2);
  const peak = (xs: Sample[]) => Math.max(0, ...xs.map((s) => s.rss)) / MiB;
  const peakGrowth = q3.length && q4.length ? peak(q4) - peak(q3) : 0;
  const growth = (slope * (t1 - mid)) / MiB;
  const midMiB = (midSample?.rss ?? 0) / MiB;
  return {
    process: name,
    samples: use.length,
    firstMiB: (use[0]?.rss ?? 0) / MiB,
    midMiB,
    lastMiB: (use[use.length - 1]?.rss ?? 0) / MiB,
    maxMiB: Math.max(0, ...use.map((s) => s.rss)) / MiB,
    slopeMiBPerMin: (slope * 60) / MiB,
    growthMiB: growth,
    peakGrowthMiB: peakGrowth,
    flat: peakGrowth <= Math.max(16, 0.1 * midMiB),
  };
}

function startProc(name: string, config: SoakPeerConfig): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', PEER, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const proc: Proc = { name, child, samples: [], lines: [], events: [], waiters: [], stderr: [] };
  createInterface({ input: child.stdout! }).on('line', (l) => {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(l) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof v.rss === 'number' && typeof v.t === 'number') proc.samples.push({ t: v.t, rss: v.rss });
    if (v.done === true && typeof v.t === 'number') proc.activeUntil = v.t;
    if (v.counts && typeof v.t === 'number') {
      let n = 0;
      for (const c of Object.values(v.counts as Record<string, { count: number }>)) n += c.count;
      if (n > 0 && proc.activeFrom === undefined) proc.activeFrom = v.t;
      if (proc.expect !== undefined && n >= proc.expect && proc.activeUntil === undefined)
        proc.activeUntil = v.t;
    }
    if (typeof v.event === 'string' && proc.events.length < 20) proc.events.push(v.event);
    proc.lines.push(v);
    if (proc.lines.length > 50) proc.lines.splice(0, proc.lines.length - 50);
    proc.waiters = proc.waiters.filter((w) => !w(v));
  });
  createInterface({ input: child.stderr! }).on('line', (l) => {
    proc.stderr.push(l);
    if (proc.stderr.length > 40) proc.stderr.shift();
  });
  return proc;
}

function exitText(proc: Proc): string {
  const { exitCode, signalCode } = proc.child;
  return `exited (code ${exitCode}, signal ${signalCode}; stderr: ${proc.stderr.slice(-8).join(' | ') || 'none'})`;
}

/** Resolve with the first line matching `match` (or reject when the process exits or the deadline passes). */
function waitLine(
  proc: Proc,
  match: (v: Record<string, unknown>) => boolean,
  deadline: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      reject(new Error(`${proc.name} ${exitText(proc)}`));
      return;
    }
    const timer = setTimeout(
      () => reject(new Error(`${proc.name}: timed out (stderr: ${proc.stderr.slice(-5).join(' | ')})`)),
      Math.max(0, deadline - Date.now()),
    );
    const onExit = () => {
      clearTimeout(timer);
      reject(new Error(`${proc.name} ${exitText(proc)}`));
    };
    proc.child.once('exit', onExit);
    proc.waiters.push((v) => {
      if (typeof v.error === 'string') {
        clearTimeout(timer);
        proc.child.removeListener('exit', onExit);
        reject(new Error(`${proc.name}: ${v.error}`));
        return true;
      }
      if (!match(v)) return false;
      clearTimeout(timer);
      proc.child.removeListener('exit', onExit);
      resolve(v);
      return true;
    });
  });
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const routes = options.routes ?? ROUTES;
  const deadline = Date.now() + options.maxSeconds * 1000;
  const say = options.progress ?? (() => {});
  const runtimeDir = mkdtempSync(join(tmpdir(), 'tmesh-soak-'));
  const tag = randomBytes(3).toString('hex');
  const senderIds = Array.from({ length: options.senders }, (_, i) => `soak-${tag}-s${i}`);
  const routeOf = (i: number) => routes[i % routes.length]!;
  const keys = Object.fromEntries(senderIds.map((id) => [id, randomBytes(32).toString('base64')]));
  const procs: Proc[] = [];
  const problems: string[] = [];
  try {
    const receivers = new Map<SoakRoute, Proc>();
    for (const route of routes) {
      const id = `soak-${tag}-rx-${route}`;
      const p = startProc(id, {
        role: 'receiver',
        id,
        route,
        runtimeDir,
        ...(route === 'tls'
          ? {
              psk: {
                keys: Object.fromEntries(
                  senderIds.map((s) => [s, keys[s]!]).filter((_, i) => routeOf(i) === 'tls'),
                ),
              },
            }
          : {}),
      });
      p.expect = senderIds.filter((_, i) => routeOf(i) === route).length * options.messages;
      procs.push(p);
      receivers.set(route, p);
    }
    await Promise.all([...receivers.values()].map((p) => waitLine(p, (v) => v.ready === true, deadline)));
    say(`receivers ready: ${routes.join(', ')}`);
    const senders = senderIds.map((id, i) => {
      const route = routeOf(i);
      const p = startProc(id, {
        role: 'sender',
        id,
        route,
        runtimeDir,
        target: `soak-${tag}-rx-${route}`,
        count: options.messages,
        index: i,
        ...(options.window ? { window: options.window } : {}),
        ...(route === 'tls' ? { psk: { key: keys[id]! } } : {}),
      });
      procs.push(p);
      return p;
    });
    // Barrier: every sender has its transport open (message 0 sent) before any streams. A node that
    // receives over shared memory at full rate starves its own event loop (RELIABILITY.md, Soak), so a
    // sender that connects late could not even set up; that start-up problem is reported, not soaked.
    const connected = await Promise.allSettled(
      senders.map((p) => waitLine(p, (v) => v.connected === true, Math.min(deadline, Date.now() + 120_000))),
    );
    for (const [i, c] of connected.entries())
      if (c.status === 'rejected')
        problems.push(`${senderIds[i]} did not connect: ${(c.reason as Error).message}`);
    say(
      `senders connected: ${connected.filter((c) => c.status === 'fulfilled').length} of ${senders.length}; go`,
    );
    const t0 = Date.now();
    for (const p of senders) if (p.child.exitCode === null) p.child.stdin!.write('go\n');
    // A sender that fails reports its error as a problem; the others run on.
    const done = senders.map((p) =>
      waitLine(p, (v) => v.done === true, deadline).catch((e: Error) => {
        problems.push(e.message);
        return { sent: 0, crc: -1, seconds: 0, route: 'failed' } as Record<string, unknown>;
      }),
    );
    const total = options.senders * options.messages;
    const delivered = () => {
      let n = 0;
      for (const r of receivers.values()) {
        const last = [...r.lines].reverse().find((v) => v.counts);
        for (const c of Object.values((last?.counts ?? {}) as Record<string, { count: number }>))
          n += c.count;
      }
      return n;
    };
    const progress = setInterval(() => {
      const n = delivered();
      const s = (Date.now() - t0) / 1000;
      const maxRss = Math.max(0, ...procs.map((p) => p.samples.at(-1)?.rss ?? 0)) / MiB;
      say(
        `${s.toFixed(0)} s: ${n} of ${total} delivered (${((100 * n) / total).toFixed(1)} %), ${(n / s).toFixed(0)} msg/s, largest RSS ${maxRss.toFixed(0)} MiB`,
      );
    }, 5000);
    let doneLines: Record<string, unknown>[];
    try {
      doneLines = await Promise.all(done);
      // Every message sent reached its receiver's counters (the receivers report once a second).
      const sentInAll = doneLines.reduce((n, d) => n + Number(d.sent), 0);
      // Wait for the receivers to count all that was sent; give up after 30 s without progress.
      let last = -1;
      let lastChange = Date.now();
      while (delivered() < sentInAll && Date.now() < deadline && Date.now() - lastChange < 30_000) {
        if (delivered() !== last) {
          last = delivered();
          lastChange = Date.now();
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      clearInterval(progress);
    }
    const seconds = (Date.now() - t0) / 1000;
    // Node events up to here; stopping the receivers below makes the senders log their transports closing.
    const runEvents = procs.flatMap((p) => p.events.map((e) => `${p.name} event: ${e}`));
    for (const p of procs)
      if (p.child.exitCode !== null || p.child.signalCode !== null)
        runEvents.push(`${p.name} ${exitText(p)} before the end of the run`);
    const finals = new Map<SoakRoute, Record<string, unknown>>();
    for (const [route, p] of receivers) {
      const final = waitLine(p, (v) => v.final !== undefined, deadline);
      if (p.child.exitCode === null) p.child.stdin!.write('stop\n');
      finals.set(
        route,
        await final.catch((e: Error) => {
          problems.push(`receiver ${route}: ${e.message}`);
          return { final: {} };
        }),
      );
    }
    const perSender: SenderReport[] = senderIds.map((id, i) => {
      const route = routeOf(i);
      const d = doneLines[i]!;
      const f = (
        finals.get(route)!.final as Record<
          string,
          { count: number; crc: number; orderErrors: number; route: string }
        >
      )[id];
      const r: SenderReport = {
        id,
        route: `${route} (${String(d.route)})`,
        sent: Number(d.sent),
        received: f?.count ?? 0,
        crcOk: f?.crc === d.crc,
        orderErrors: f?.orderErrors ?? 0,
        seconds: Number(d.seconds),
      };
      if (r.sent !== options.messages) problems.push(`${id} sent ${r.sent} of ${options.messages}`);
      if (r.received !== r.sent) problems.push(`${id} (${route}): ${r.received} received of ${r.sent} sent`);
      if (!r.crcOk) problems.push(`${id} (${route}): CRC-32 mismatch`);
      if (r.orderErrors) problems.push(`${id} (${route}): ${r.orderErrors} out of order`);
      const wanted = route === 'tls' ? 'tcp' : route;
      if (String(d.route) !== wanted)
        problems.push(`${id}: expected route ${wanted}, used ${String(d.route)}`);
      return r;
    });
    for (const [route, f] of finals) if (f.firstError) problems.push(`rx ${route}: ${String(f.firstError)}`);
    problems.push(...runEvents);
    for (const s of senders) if (s.child.exitCode === null) s.child.stdin!.write('stop\n');
    const rss = procs.map((p) => rssReport(p.name, p.samples, p.activeFrom, p.activeUntil));
    for (const r of rss) {
      if (!r.flat && seconds >= 60)
        problems.push(`${r.process}: RSS peaks grew ${r.peakGrowthMiB.toFixed(1)} MiB over the last quarter`);
    }
    const perRoute: SoakResult['perRoute'] = {};
    for (const route of routes) {
      const mine = perSender.filter((s) => s.route.startsWith(`${route} `));
      const msgs = mine.reduce((a, s) => a + s.received, 0);
      // From the receiver's first counted delivery to the sample where it had them all (1 s resolution).
      const rx = receivers.get(route)!;
      const from = rx.activeFrom ?? 0;
      const until = rx.activeUntil ?? rx.samples.at(-1)?.t ?? from;
      perRoute[route] = { senders: mine.length, messages: msgs, rate: msgs / Math.max(until - from, 1) };
    }
    return {
      ok: problems.length === 0,
      problems,
      senders: options.senders,
      messagesPerSender: options.messages,
      totalMessages: perSender.reduce((a, s) => a + s.received, 0),
      seconds,
      rate: perSender.reduce((a, s) => a + s.received, 0) / seconds,
      perRoute,
      perSender,
      rss,
      flatBound:
        'the highest RSS of the last quarter of its active time exceeds the highest of the third quarter by at most max(16 MiB, 10 % of the RSS at half time); judged for runs of 60 s or more. The least-squares slope over the second half is reported beside it (GC sawtooth makes it noisy)',
    };
  } finally {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
            const kill = setTimeout(() => p.child.kill('SIGKILL'), 5000);
            p.child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            p.child.stdin!.end('stop\n');
          }),
      ),
    );
    rmSync(runtimeDir, { recursive: true, force: true });
  }
}
