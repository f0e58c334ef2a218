import { Counter, Gauge, Registry } from 'prom-client';
import type { TransportMonitor } from './monitor.js';
import type { PerformanceReport } from './report.js';

/** Options of {@link PrometheusExporter}. */
export interface PrometheusOptions {
  /** Registry to register in (default: a new one of its own, never prom-client's global registry). */
  registry?: Registry;
  /** Metric name prefix (default `tmesh_`). */
  prefix?: string;
}

const QUANTILES = [
  ['0.5', 'p50'],
  ['0.9', 'p90'],
  ['0.99', 'p99'],
  ['1', 'max'],
] as const;

/** Milliseconds to seconds at nanosecond resolution, so 0.0008 ms prints as 8e-7, not 8.000000000000001e-7. */
function seconds(ms: number): number {
  return Math.round(ms * 1e6) / 1e9;
}

/**
 * Prometheus exposition of a monitor's report through prom-client. Values are read from the monitor
 * when the registry is scraped (`collect`), so recording never touches prom-client.
 */
export class PrometheusExporter {
  /** The registry holding tmesh's metrics; serve `await registry.metrics()` with `registry.contentType`. */
  readonly registry: Registry;
  private current: PerformanceReport | undefined;

  constructor(
    private readonly monitor: TransportMonitor,
    options: PrometheusOptions = {},
  ) {
    this.registry = options.registry ?? new Registry();
    const prefix = options.prefix ?? 'tmesh_';
    const registers = [this.registry];
    const snapshot = () => this.current ?? this.monitor.report();
    const stream = ['peer', 'strategy'] as const;

    new Counter({
      name: `${prefix}transmissions_total`,
      help: 'Transmissions by peer, strategy and outcome.',
      labelNames: [...stream, 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const s of snapshot().streams) {
          this.inc({ peer: s.peer, strategy: s.strategy, outcome: 'ok' }, s.messages - s.errors - s.timeouts);
          this.inc({ peer: s.peer, strategy: s.strategy, outcome: 'error' }, s.errors);
          this.inc({ peer: s.peer, strategy: s.strategy, outcome: 'timeout' }, s.timeouts);
        }
      },
    });
    new Counter({
      name: `${prefix}transmitted_bytes_total`,
      help: 'Wire bytes of successful transmissions.',
      labelNames: stream,
      registers,
      collect() {
        this.reset();
        for (const s of snapshot().streams) this.inc({ peer: s.peer, strategy: s.strategy }, s.bytes);
      },
    });
    new Gauge({
      name: `${prefix}transmission_duration_seconds`,
      help: 'Duration quantiles of successful transmissions (HDR histogram, 3 significant digits).',
      labelNames: [...stream, 'quantile'],
      registers,
      collect() {
        this.reset();
        for (const s of snapshot().streams) {
          if (!s.latencyMs) continue;
          for (const [quantile, key] of QUANTILES) {
            this.set({ peer: s.peer, strategy: s.strategy, quantile }, seconds(s.latencyMs[key]));
          }
        }
      },
    });
    new Gauge({
      name: `${prefix}window_throughput_bytes_per_second`,
      help: 'Wire bytes per second over the sliding window.',
      labelNames: stream,
      registers,
      collect() {
        this.reset();
        for (const s of snapshot().streams)
          this.set({ peer: s.peer, strategy: s.strategy }, s.windowThroughputBytesPerSec);
      },
    });
    const peerGauge = (
      name: string,
      help: string,
      value: (p: PerformanceReport['peers'][number]) => number | undefined,
    ) =>
      new Gauge({
        name: `${prefix}${name}`,
        help,
        labelNames: ['peer'],
        registers,
        collect() {
          this.reset();
          for (const p of snapshot().peers) {
            const v = value(p);
            if (v !== undefined) this.set({ peer: p.peer }, v);
          }
        },
      });
    peerGauge('link_rtt_seconds', 'Smoothed heartbeat round-trip time.', (p) =>
      p.rttMs === undefined ? undefined : seconds(p.rttMs),
    );
    peerGauge(
      'link_bandwidth_bytes_per_second',
      'Bandwidth estimate from recent large transfers.',
      (p) => p.bandwidthBytesPerSec,
    );
    peerGauge('link_error_ratio', 'Failed share of transmissions over the window.', (p) => p.errorRate);
    peerGauge(
      'link_compression_ratio',
      'Compressed / original size of recent compression samples.',
      (p) => p.compressionRatio,
    );
  }

  /** The Prometheus text exposition of the monitor now (one report for the whole scrape). */
  async metrics(): Promise<string> {
    this.current = this.monitor.report();
    try {
      return await this.registry.metrics();
    } finally {
      this.current = undefined;
    }
  }
}
