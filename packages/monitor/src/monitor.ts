import type { StrategyKind, TransportStrategy, WireId } from '@tmesh/core';
import { tmeshError } from '@tmesh/core';
import type { Histogram } from 'hdr-histogram-js';
import { createHistogram } from './histogram.js';
import type { LinkCondition } from './link-condition.js';
import type { PeerReport, PerformanceReport, StreamReport } from './report.js';
import { SampleRing, SlidingWindow } from './window.js';

/** How one transmission ended. */
export type Outcome = 'ok' | 'error' | 'timeout';

/** Options of a {@link TransportMonitor}; every field has a default. */
export interface MonitorOptions {
  /** Clock in milliseconds (default `performance.now()`); inject one for deterministic tests. */
  now?: () => number;
  /** Length of one window bucket in ms (default 1000). */
  bucketMs?: number;
  /** Buckets per window (default 10, so throughput and error rate cover the last 10 s). */
  windowBuckets?: number;
  /** Records buffered per recorder before they are folded into histograms (default 256). */
  batchSize?: number;
  /** Period of the background flush in ms, 0 for none (default 250); it bounds how late a record lands in the window. */
  flushIntervalMs?: number;
  /** Transfers at least this large feed the bandwidth estimate (default 64 KiB; smaller ones measure latency, not rate). */
  minBandwidthSampleBytes?: number;
  /** How many recent large transfers the bandwidth median uses (default 16). */
  bandwidthSamples?: number;
}

const OUTCOME_OK = 0;
const OUTCOME_ERROR = 1;
const OUTCOME_TIMEOUT = 2;
const WIRES: ReadonlySet<string> = new Set<WireId>(['swift', 'rust', 'universal']);

/** Per peer: heartbeats, bandwidth samples, compression samples and a window over all its streams. */
class PeerState {
  srttMs: number | undefined;
  rttVarMs = 0;
  minRttMs = Number.POSITIVE_INFINITY;
  readonly rttHistogram: Histogram = createHistogram();
  readonly bandwidth: SampleRing;
  readonly wireRates = new Map<WireId, SampleRing>();
  readonly compressionOriginal = new SampleRing(16);
  readonly compressionCompressed = new SampleRing(16);
  readonly window: SlidingWindow;

  constructor(
    readonly peer: string,
    bucketMs: number,
    buckets: number,
    readonly sampleCount: number,
  ) {
    this.bandwidth = new SampleRing(sampleCount);
    this.window = new SlidingWindow(bucketMs, buckets);
  }
}

/**
 * Records transmissions to one peer over one strategy. `record` is the hot path: it stores three
 * numbers in typed arrays; every `batchSize` records (and on the monitor's flush timer, and before any
 * read) the batch is folded into the HDR histogram, the window and the bandwidth estimate.
 */
export class TransmissionRecorder {
  private readonly bytes: Float64Array;
  private readonly durations: Float64Array;
  private readonly outcomes: Uint8Array;
  private pending = 0;
  /** Every transmission, whatever its outcome. */
  messages = 0;
  /** Transmissions that failed. */
  errors = 0;
  /** Transmissions that timed out. */
  timeouts = 0;
  /** Wire bytes of successful transmissions. */
  okBytes = 0;
  /** Summed duration of successful transmissions, nanoseconds. */
  okDurationNs = 0;
  /** Durations of successful transmissions, nanoseconds. */
  readonly latency: Histogram = createHistogram();
  /** Window of this stream alone. */
  readonly window: SlidingWindow;

  /** @internal Created by {@link TransportMonitor.recorder}. */
  constructor(
    /** The peer (node id) this recorder measures. */
    readonly peer: string,
    /** Strategy label: the kind, plus `+<compression>` when compressed (e.g. `rust+deflate`). */
    readonly strategy: string,
    private readonly wire: WireId | undefined,
    private readonly state: PeerState,
    private readonly monitor: TransportMonitor,
    private readonly options: Required<MonitorOptions>,
  ) {
    this.bytes = new Float64Array(options.batchSize);
    this.durations = new Float64Array(options.batchSize);
    this.outcomes = new Uint8Array(options.batchSize);
    this.window = new SlidingWindow(options.bucketMs, options.windowBuckets);
  }

  /** Records one transmission of `bytes` wire bytes that took `durationNs` nanoseconds. */
  record(bytes: number, durationNs: number, outcome: Outcome = 'ok'): void {
    const i = this.pending;
    this.bytes[i] = bytes;
    this.durations[i] = durationNs;
    this.outcomes[i] = outcome === 'ok' ? OUTCOME_OK : outcome === 'error' ? OUTCOME_ERROR : OUTCOME_TIMEOUT;
    this.pending = i + 1;
    if (this.pending === this.bytes.length) this.flush();
  }

  /** Folds buffered records into the histogram, counters, windows and bandwidth samples. */
  flush(): void {
    const n = this.pending;
    if (n === 0) return;
    if (this.monitor.isClosed()) throw tmeshError('E_CLOSED', 'TransmissionRecorder: the monitor was closed');
    this.pending = 0;
    const nowMs = this.monitor.nowMs();
    const minSample = this.options.minBandwidthSampleBytes;
    const { state, latency } = this;
    let okBytes = 0;
    let okDuration = 0;
    let failures = 0;
    let timeouts = 0;
    for (let i = 0; i < n; i++) {
      const bytes = this.bytes[i]!;
      const duration = this.durations[i]!;
      if (this.outcomes[i] === OUTCOME_OK) {
        okBytes += bytes;
        okDuration += duration;
        latency.recordValue(duration > 0 ? Math.round(duration) : 0);
        if (bytes >= minSample && duration > 0) {
          const rate = (bytes * 1e9) / duration;
          state.bandwidth.push(rate);
          if (this.wire) this.wireRing().push(rate);
        }
      } else {
        failures++;
        if (this.outcomes[i] === OUTCOME_TIMEOUT) timeouts++;
      }
    }
    this.messages += n;
    this.errors += failures - timeouts;
    this.timeouts += timeouts;
    this.okBytes += okBytes;
    this.okDurationNs += okDuration;
    this.window.add(nowMs, okBytes, n, failures);
    state.window.add(nowMs, okBytes, n, failures);
  }

  private wireRing(): SampleRing {
    let ring = this.state.wireRates.get(this.wire!);
    if (!ring) {
      ring = new SampleRing(this.state.sampleCount);
      this.state.wireRates.set(this.wire!, ring);
    }
    return ring;
  }
}

/** The label a strategy is reported under: its kind, plus `+<compression>` when it compresses. */
export function strategyLabel(strategy: TransportStrategy | StrategyKind): string {
  if (typeof strategy === 'string') return strategy;
  if ('compression' in strategy && strategy.compression !== 'none')
    return `${strategy.kind}+${strategy.compression}`;
  return strategy.kind;
}

function checkName(what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `TransportMonitor: ${what} must be a non-empty string, got ${String(value)}`,
    );
  }
}

function checkPositiveInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `TransportMonitor: ${what} must be a positive integer, got ${String(value)}`,
    );
  }
}

/**
 * Measures every transmission per peer and strategy (HDR latency histograms, counters, sliding-window
 * throughput), keeps a link condition per peer (heartbeat RTT, bandwidth estimate, error rate,
 * compressibility) and renders performance reports. Get a {@link TransmissionRecorder} once per
 * peer and strategy and call its `record` on the hot path.
 */
export class TransportMonitor {
  private readonly options: Required<MonitorOptions>;
  private readonly peersById = new Map<string, PeerState>();
  private readonly recorders = new Map<string, TransmissionRecorder>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(options: MonitorOptions = {}) {
    this.options = {
      now: options.now ?? (() => performance.now()),
      bucketMs: options.bucketMs ?? 1000,
      windowBuckets: options.windowBuckets ?? 10,
      batchSize: options.batchSize ?? 256,
      flushIntervalMs: options.flushIntervalMs ?? 250,
      minBandwidthSampleBytes: options.minBandwidthSampleBytes ?? 64 * 1024,
      bandwidthSamples: options.bandwidthSamples ?? 16,
    };
    for (const key of ['bucketMs', 'windowBuckets', 'batchSize', 'bandwidthSamples'] as const) {
      checkPositiveInteger(key, this.options[key]);
    }
    if (!(this.options.flushIntervalMs >= 0) || !(this.options.minBandwidthSampleBytes >= 0)) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        'TransportMonitor: flushIntervalMs and minBandwidthSampleBytes must be >= 0',
      );
    }
  }

  /** @internal The monitor's clock, milliseconds. */
  nowMs(): number {
    return this.options.now();
  }

  /** @internal True after `close()`: recorders must not touch the freed histograms. */
  isClosed(): boolean {
    return this.closed;
  }

  /** Window length in milliseconds. */
  get windowMs(): number {
    return this.options.bucketMs * this.options.windowBuckets;
  }

  private peerState(peer: string): PeerState {
    let state = this.peersById.get(peer);
    if (!state) {
      const o = this.options;
      state = new PeerState(peer, o.bucketMs, o.windowBuckets, o.bandwidthSamples);
      this.peersById.set(peer, state);
    }
    return state;
  }

  private ensureOpen(): void {
    if (this.closed) throw tmeshError('E_CLOSED', 'TransportMonitor: the monitor was closed');
  }

  /** The recorder for one peer and strategy (created once, then cached: keep it beside the link). */
  recorder(peer: string, strategy: TransportStrategy | StrategyKind): TransmissionRecorder {
    this.ensureOpen();
    checkName('peer', peer);
    const label = strategyLabel(strategy);
    checkName('strategy', label);
    const key = `${peer}\u0000${label}`;
    let recorder = this.recorders.get(key);
    if (!recorder) {
      const kind = typeof strategy === 'string' ? strategy : strategy.kind;
      const wire = WIRES.has(kind) ? (kind as WireId) : undefined;
      recorder = new TransmissionRecorder(peer, label, wire, this.peerState(peer), this, this.options);
      this.recorders.set(key, recorder);
      if (this.timer === undefined && this.options.flushIntervalMs > 0) {
        this.timer = setInterval(() => this.flush(), this.options.flushIntervalMs);
        this.timer.unref();
      }
    }
    return recorder;
  }

  /** Records one transmission (looks the recorder up each time: use `recorder()` on hot paths). */
  record(
    peer: string,
    strategy: TransportStrategy | StrategyKind,
    bytes: number,
    durationNs: number,
    outcome: Outcome = 'ok',
  ): void {
    this.recorder(peer, strategy).record(bytes, durationNs, outcome);
  }

  /** Records a heartbeat round trip to `peer` of `rttMs` milliseconds (RFC 6298 smoothing). */
  recordHeartbeat(peer: string, rttMs: number): void {
    this.ensureOpen();
    checkName('peer', peer);
    if (!Number.isFinite(rttMs) || rttMs < 0) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        `TransportMonitor: rttMs must be a finite number >= 0, got ${rttMs}`,
      );
    }
    const state = this.peerState(peer);
    if (state.srttMs === undefined) {
      state.srttMs = rttMs;
      state.rttVarMs = rttMs / 2;
    } else {
      state.rttVarMs = 0.75 * state.rttVarMs + 0.25 * Math.abs(state.srttMs - rttMs);
      state.srttMs = 0.875 * state.srttMs + 0.125 * rttMs;
    }
    state.minRttMs = Math.min(state.minRttMs, rttMs);
    state.rttHistogram.recordValue(Math.round(rttMs * 1000));
  }

  /**
   * Records how well a payload to `peer` compressed (the link compresses a sample now and then, even
   * with compression off, so the optimizer knows whether turning it on pays).
   */
  recordCompressionSample(peer: string, originalBytes: number, compressedBytes: number): void {
    this.ensureOpen();
    checkName('peer', peer);
    if (
      !(originalBytes > 0) ||
      !(compressedBytes >= 0) ||
      !Number.isFinite(originalBytes + compressedBytes)
    ) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        'TransportMonitor: compression sample sizes must be finite, original > 0',
      );
    }
    const state = this.peerState(peer);
    state.compressionOriginal.push(originalBytes);
    state.compressionCompressed.push(compressedBytes);
  }

  /** Folds every recorder's buffered records in (reads do this themselves). */
  flush(): void {
    for (const recorder of this.recorders.values()) recorder.flush();
  }

  /** Peers with any record, heartbeat or sample, sorted. */
  peers(): string[] {
    return [...this.peersById.keys()].sort();
  }

  /** The measured link to `peer`; fields stay absent until measured. */
  linkCondition(peer: string): LinkCondition {
    this.flush();
    const state = this.peersById.get(peer);
    const condition: LinkCondition = {};
    if (!state) return condition;
    if (state.srttMs !== undefined) {
      condition.rttMs = state.srttMs;
      condition.rttVarMs = state.rttVarMs;
      condition.minRttMs = state.minRttMs;
    }
    const bandwidth = state.bandwidth.median();
    if (bandwidth !== undefined) condition.bandwidthBytesPerSec = bandwidth;
    const totals = state.window.totals(this.nowMs());
    if (totals.messages > 0) {
      condition.errorRate = totals.failures / totals.messages;
      condition.messagesPerSec = totals.messages / totals.seconds;
      condition.throughputBytesPerSec = totals.bytes / totals.seconds;
    }
    if (state.wireRates.size > 0) {
      const wires: Partial<Record<WireId, number>> = {};
      for (const [wire, ring] of [...state.wireRates].sort(([a], [b]) => a.localeCompare(b)))
        wires[wire] = ring.median()!;
      condition.wireThroughput = wires;
    }
    if (state.compressionOriginal.size > 0) {
      condition.compressionRatio = state.compressionCompressed.sum() / state.compressionOriginal.sum();
    }
    return condition;
  }

  /** A snapshot of every stream and peer, sorted by peer then strategy. */
  report(): PerformanceReport {
    this.flush();
    const now = this.nowMs();
    const ms = (ns: number) => ns / 1e6;
    const streams: StreamReport[] = [...this.recorders.values()]
      .sort((a, b) =>
        a.peer === b.peer ? a.strategy.localeCompare(b.strategy) : a.peer.localeCompare(b.peer),
      )
      .map((r) => {
        const window = r.window.totals(now);
        const ok = r.latency.totalCount;
        // HDR reports a percentile as the top of its bucket, which can pass the exact max: cap it there.
        const max = r.latency.maxValue;
        const at = (percentile: number) => ms(Math.min(max, r.latency.getValueAtPercentile(percentile)));
        return {
          peer: r.peer,
          strategy: r.strategy,
          messages: r.messages,
          errors: r.errors,
          timeouts: r.timeouts,
          bytes: r.okBytes,
          throughputBytesPerSec: r.okDurationNs > 0 ? (r.okBytes * 1e9) / r.okDurationNs : undefined,
          windowThroughputBytesPerSec: window.bytes / window.seconds,
          windowMessagesPerSec: window.messages / window.seconds,
          latencyMs:
            ok === 0
              ? undefined
              : {
                  mean: ms(r.okDurationNs / ok),
                  p50: at(50),
                  p90: at(90),
                  p99: at(99),
                  max: ms(max),
                },
        };
      });
    const peers: PeerReport[] = this.peers().map((peer) => {
      const state = this.peersById.get(peer)!;
      const condition = this.linkCondition(peer);
      const rttCount = state.rttHistogram.totalCount;
      return {
        peer,
        heartbeats: rttCount,
        rttMs: condition.rttMs,
        minRttMs: condition.minRttMs,
        rttP99Ms:
          rttCount > 0
            ? Math.min(state.rttHistogram.maxValue, state.rttHistogram.getValueAtPercentile(99)) / 1000
            : undefined,
        bandwidthBytesPerSec: condition.bandwidthBytesPerSec,
        errorRate: condition.errorRate,
        compressionRatio: condition.compressionRatio,
        wireThroughput: condition.wireThroughput ?? {},
      };
    });
    return { windowMs: this.windowMs, streams, peers };
  }

  /** Stops the flush timer and frees the histograms (WebAssembly memory). The monitor cannot record after. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const recorder of this.recorders.values()) recorder.latency.destroy();
    for (const state of this.peersById.values()) state.rttHistogram.destroy();
  }
}
