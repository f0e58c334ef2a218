// Performance metrics (the seed's PerformanceMetrics, Rust message type 4): a worker node sends file
// chunks to a collector and, every interval, publishes its own monitor report (`node.stats().report`)
// as a PerformanceMetrics message. The collector prints each one as the seed-style table with
// @tmesh/monitor's `renderTable`, and checks it against what it received itself: the worker's message
// count for the collector must equal the chunks plus earlier reports that arrived before it.
//
//   npx tsx examples/performance-metrics.ts [--reports <n>] [--interval <ms>]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defineMessage, type Infer, sampleMessages, t, tmeshError } from '@tmesh/core';
import { createNode } from '@tmesh/manager';
import { type PerformanceReport, renderTable } from '@tmesh/monitor';

const Latency = t.struct('LatencySample', {
  mean: t.f64(),
  p50: t.f64(),
  p90: t.f64(),
  p99: t.f64(),
  max: t.f64(),
});
const StreamSample = t.struct('StreamSample', {
  peer: t.string(),
  strategy: t.string(),
  messages: t.u64(),
  errors: t.u64(),
  timeouts: t.u64(),
  bytes: t.u64(),
  throughputBytesPerSec: t.optional(t.f64()),
  windowThroughputBytesPerSec: t.f64(),
  windowMessagesPerSec: t.f64(),
  latencyMs: t.optional(Latency),
});
const PeerSample = t.struct('PeerSample', {
  peer: t.string(),
  heartbeats: t.u64(),
  rttMs: t.optional(t.f64()),
  minRttMs: t.optional(t.f64()),
  rttP99Ms: t.optional(t.f64()),
  bandwidthBytesPerSec: t.optional(t.f64()),
  errorRate: t.optional(t.f64()),
  compressionRatio: t.optional(t.f64()),
  wireThroughput: t.map(t.string(), t.f64()),
});

/** A node's whole monitor report, the seed's PerformanceMetrics (Rust message type 4). */
export const PerformanceMetrics = defineMessage(
  'examples.PerformanceMetrics',
  4,
  t.struct('PerformanceMetrics', {
    node: t.string(),
    at: t.u64(),
    sequence: t.u32(),
    windowMs: t.u32(),
    streams: t.list(StreamSample),
    peers: t.list(PeerSample),
  }),
);
type Metrics = Infer<typeof PerformanceMetrics.schema>;

/** Drop undefined fields: optional schema fields must be absent, not `undefined`. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A monitor report as a PerformanceMetrics message. */
export function toMetrics(node: string, sequence: number, report: PerformanceReport): Metrics {
  return {
    node,
    at: BigInt(Date.now()),
    sequence,
    windowMs: report.windowMs,
    streams: report.streams.map((s) =>
      defined({
        ...s,
        messages: BigInt(s.messages),
        errors: BigInt(s.errors),
        timeouts: BigInt(s.timeouts),
        bytes: BigInt(s.bytes),
        latencyMs: s.latencyMs ? { ...s.latencyMs } : undefined,
      }),
    ),
    peers: report.peers.map((p) =>
      defined({
        ...p,
        heartbeats: BigInt(p.heartbeats),
        wireThroughput: new Map(Object.entries(p.wireThroughput) as [string, number][]),
      }),
    ),
  };
}

/** A PerformanceMetrics message back as the monitor's report, for `renderTable`. */
export function fromMetrics(m: Metrics): PerformanceReport {
  return {
    windowMs: m.windowMs,
    streams: m.streams.map((s) => ({
      peer: s.peer,
      strategy: s.strategy,
      messages: Number(s.messages),
      errors: Number(s.errors),
      timeouts: Number(s.timeouts),
      bytes: Number(s.bytes),
      throughputBytesPerSec: s.throughputBytesPerSec,
      windowThroughputBytesPerSec: s.windowThroughputBytesPerSec,
      windowMessagesPerSec: s.windowMessagesPerSec,
      latencyMs: s.latencyMs,
    })),
    peers: m.peers.map((p) => ({
      peer: p.peer,
      heartbeats: Number(p.heartbeats),
      rttMs: p.rttMs,
      minRttMs: p.minRttMs,
      rttP99Ms: p.rttP99Ms,
      bandwidthBytesPerSec: p.bandwidthBytesPerSec,
      errorRate: p.errorRate,
      compressionRatio: p.compressionRatio,
      wireThroughput: Object.fromEntries(p.wireThroughput),
    })),
  };
}

/** Options of {@link collectMetrics}. */
export interface MetricsOptions {
  reports?: number;
  intervalMs?: number;
  log?: (line: string) => void;
}

/** One report as the collector checked it. */
export interface CheckedReport {
  sequence: number;
  /** The worker's count of messages it sent to the collector (all strategies). */
  reportedMessages: number;
  /** Chunks plus earlier reports the collector had received when this report arrived. */
  receivedBefore: number;
  reportedBytes: number;
  strategies: string[];
  table: string;
}

/** What {@link collectMetrics} saw. */
export interface MetricsResult {
  reports: CheckedReport[];
  verified: boolean;
}

/** Run a worker and a collector; return the reports the collector printed and checked. */
export async function collectMetrics(options: MetricsOptions = {}): Promise<MetricsResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const count = options.reports ?? 3;
  const intervalMs = options.intervalMs ?? 500;
  if (!Number.isInteger(count) || count < 1 || count > 1000)
    throw tmeshError('E_INVALID_ARGUMENT', `--reports must be 1..1000, got ${count}`);
  if (!Number.isFinite(intervalMs) || intervalMs < 10)
    throw tmeshError('E_INVALID_ARGUMENT', `--interval must be at least 10 ms, got ${intervalMs}`);
  const runtimeDir = mkdtempSync(join(tmpdir(), 'tmesh-example-metrics-'));
  const types = [sampleMessages.FileChunk, PerformanceMetrics];
  // The Unix socket goes in the same temporary runtime directory: by default it is <defaultRuntimeDir()>/<id>.sock
  // whatever `discovery.runtimeDir` says, so two runs at once would replace each other's socket.
  const at = (id: string) => ({ unix: join(runtimeDir, `${id}.sock`) });
  const collector = await createNode({
    id: 'collector',
    types,
    discovery: { runtimeDir },
    transport: at('collector'),
  });
  const worker = await createNode({
    id: 'worker',
    types,
    discovery: { runtimeDir },
    transport: at('worker'),
  }).catch(async (error: unknown) => {
    await collector.close(); // do not leave the first node listening
    throw error;
  });
  try {
    // Collector: count what arrives, print and check every report.
    const reports: CheckedReport[] = [];
    let received = 0;
    let allIn!: () => void;
    const done = new Promise<void>((resolve) => {
      allIn = resolve;
    });
    collector.on(sampleMessages.FileChunk, () => {
      received++;
    });
    collector.on(PerformanceMetrics, ({ value, from }) => {
      const report = fromMetrics(value);
      const mine = report.streams.filter((s) => s.peer === 'collector');
      const table = renderTable(report);
      reports.push({
        sequence: value.sequence,
        reportedMessages: mine.reduce((n, s) => n + s.messages, 0),
        receivedBefore: received,
        reportedBytes: mine.reduce((n, s) => n + s.bytes, 0),
        strategies: mine.map((s) => s.strategy),
        table,
      });
      log(
        `\nPerformanceMetrics #${value.sequence} from ${from} (${new Date(Number(value.at)).toISOString()})`,
      );
      log(table);
      received++;
      if (reports.length === count) allIn();
    });

    // Worker: send chunks of mixed sizes for one interval, then publish its own report; repeat.
    const sizes = [256, 4096, 16_384, 65_536];
    let sequence = 0;
    for (let r = 1; r <= count; r++) {
      const until = Date.now() + intervalMs;
      while (Date.now() < until) {
        const data = new Uint8Array(sizes[sequence % sizes.length]!).fill(sequence & 0xff);
        await worker.send('collector', sampleMessages.FileChunk, {
          path: 'metrics-load',
          offset: 0n,
          sequence: sequence++,
          last: false,
          data,
        });
        if (sequence % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await worker.send('collector', PerformanceMetrics, toMetrics(worker.info.id, r, worker.stats().report));
    }
    await Promise.race([
      done,
      new Promise((_, reject) =>
        setTimeout(
          () => reject(tmeshError('E_TIMEOUT', 'collector did not get every report in 10 s')),
          10_000,
        ).unref(),
      ),
    ]);
    const verified =
      reports.length === count &&
      reports.every(
        (r, i) => r.sequence === i + 1 && r.reportedMessages === r.receivedBefore && r.reportedBytes > 0,
      );
    log(
      verified
        ? `verified: ${count} reports, each counting exactly the ${reports.map((r) => r.receivedBefore).join(' / ')} messages the collector had received`
        : `MISMATCH: reported ${reports.map((r) => r.reportedMessages).join(' / ')}, received ${reports.map((r) => r.receivedBefore).join(' / ')}`,
    );
    return { reports, verified };
  } finally {
    await worker.close();
    await collector.close();
    rmSync(runtimeDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const value = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const reports = value('--reports');
  const interval = value('--interval');
  const result = await collectMetrics({
    ...(reports ? { reports: Number(reports) } : {}),
    ...(interval ? { intervalMs: Number(interval) } : {}),
  });
  console.log(
    `RESULT ${JSON.stringify({ verified: result.verified, reports: result.reports.map(({ table: _, ...r }) => r) })}`,
  );
  process.exit(result.verified ? 0 : 1);
}
