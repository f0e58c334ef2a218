import type { WireId } from '@tmesh/core';

/** Latency of the successful transmissions of one stream, milliseconds. */
export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** One peer and strategy: counts, bytes, throughput and latency. */
export interface StreamReport {
  peer: string;
  /** Strategy label, e.g. `rust`, `rust+deflate`, `shm`. */
  strategy: string;
  /** Every transmission, whatever its outcome. */
  messages: number;
  errors: number;
  timeouts: number;
  /** Wire bytes of the successful transmissions. */
  bytes: number;
  /** Bytes / summed duration of the successful transmissions (the seed's "avg MB/s"), undefined before any. */
  throughputBytesPerSec: number | undefined;
  /** Bytes per second over the sliding window. */
  windowThroughputBytesPerSec: number;
  /** Messages per second over the sliding window. */
  windowMessagesPerSec: number;
  latencyMs: LatencySummary | undefined;
}

/** One peer's link condition. */
export interface PeerReport {
  peer: string;
  heartbeats: number;
  rttMs: number | undefined;
  minRttMs: number | undefined;
  rttP99Ms: number | undefined;
  bandwidthBytesPerSec: number | undefined;
  errorRate: number | undefined;
  compressionRatio: number | undefined;
  wireThroughput: Partial<Record<WireId, number>>;
}

/** A performance report: every stream and every peer, sorted. Plain data, JSON-serialisable. */
export interface PerformanceReport {
  windowMs: number;
  streams: StreamReport[];
  peers: PeerReport[];
}

const MiB = 1024 * 1024;

function fixed(value: number | undefined, digits: number, scale = 1): string {
  return value === undefined ? '-' : (value / scale).toFixed(digits);
}

function bytesText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MiB) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${(bytes / (1024 * MiB)).toFixed(2)} GiB`;
}

/** Lays out rows as a text table: the first `leftColumns` columns left-aligned, the rest right-aligned. */
function layout(header: string[], rows: string[][], leftColumns: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * The report as a text table in the spirit of the seed's `Strategy X: 12.34 MB/s, 5.67 ms` lines:
 * one row per peer and strategy (MiB/s, ms), then one row per peer's link.
 */
export function renderTable(report: PerformanceReport): string {
  const streams = layout(
    [
      'peer',
      'strategy',
      'msgs',
      'errors',
      'bytes',
      'avg MiB/s',
      'win MiB/s',
      'win msg/s',
      'avg ms',
      'p50 ms',
      'p99 ms',
      'max ms',
    ],
    report.streams.map((s) => [
      s.peer,
      s.strategy,
      String(s.messages),
      String(s.errors + s.timeouts),
      bytesText(s.bytes),
      fixed(s.throughputBytesPerSec, 2, MiB),
      fixed(s.windowThroughputBytesPerSec, 2, MiB),
      fixed(s.windowMessagesPerSec, 1),
      fixed(s.latencyMs?.mean, 3),
      fixed(s.latencyMs?.p50, 3),
      fixed(s.latencyMs?.p99, 3),
      fixed(s.latencyMs?.max, 3),
    ]),
    2,
  );
  const peers = layout(
    ['peer', 'rtt ms', 'min rtt ms', 'p99 rtt ms', 'bandwidth MiB/s', 'error rate', 'compress ratio'],
    report.peers.map((p) => [
      p.peer,
      fixed(p.rttMs, 3),
      fixed(p.minRttMs, 3),
      fixed(p.rttP99Ms, 3),
      fixed(p.bandwidthBytesPerSec, 2, MiB),
      p.errorRate === undefined ? '-' : `${(p.errorRate * 100).toFixed(1)}%`,
      fixed(p.compressionRatio, 3),
    ]),
    1,
  );
  return `tmesh performance (window ${report.windowMs / 1000} s)\n\n${streams}\n\n${peers}\n`;
}

/** The report as pretty-printed JSON (absent measurements are left out). */
export function renderJson(report: PerformanceReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
