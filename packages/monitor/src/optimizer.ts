import type { CompressionAlgorithm, IdleStrategy } from '@tmesh/core';
import { tmeshError } from '@tmesh/core';
import type { LinkCondition } from './link-condition.js';
import type { TransportMonitor } from './monitor.js';

/** How a link is tuned; the manager applies a new one to open links when the optimizer emits it. */
export interface TransportConfig {
  /** Socket / ring write buffer, bytes. */
  bufferSize: number;
  /** Most messages coalesced into one write. */
  batchSize: number;
  /** Longest a message waits for its batch to fill, ms (0: flush at the end of the event-loop turn). */
  batchDelayMs: number;
  /** Connection attempt deadline, ms. */
  connectTimeoutMs: number;
  /**
   * Link-level deadline, ms: silence (no heartbeat reply, no transfer progress) this long fails the link.
   * A large transfer gets `size / bandwidth` on top.
   */
  timeoutMs: number;
  /**
   * Payload compression: 'none' on fast or same-machine links; on a slow one, what
   * `OptimizerOptions.compression` names: an algorithm, or 'best' / 'fast', which the link resolves
   * among the algorithms both ends negotiated (@tmesh/net `pickCompression`: 'best' is zstd, then deflate,
   * then lz4; 'fast' is lz4, then zstd, then deflate).
   */
  compression: OptimizerCompression;
  /**
   * Suggested zlib level for 'deflate' (1 fast .. 9 small), 0 when off. Advisory: @tmesh/net links
   * compress at fixed levels (deflate 1, zstd 3).
   */
  compressionLevel: number;
  /** Idle strategy of a shared-memory receiver. */
  shmIdle: IdleStrategy;
}

/** What the optimizer turns on for a slow link: an algorithm, or the link's best / fastest negotiated one. */
export type OptimizerCompression = CompressionAlgorithm | 'best' | 'fast';

/** The config before anything is measured (the seed's `TransportConfig::default()`). */
export const DEFAULT_TRANSPORT_CONFIG: Readonly<TransportConfig> = Object.freeze({
  bufferSize: 256 * 1024,
  batchSize: 64,
  batchDelayMs: 0,
  connectTimeoutMs: 5000,
  timeoutMs: 5000,
  compression: 'none',
  compressionLevel: 0,
  shmIdle: 'adaptive',
});

const MiB = 1024 * 1024;

/** Thresholds from measurement to config. Seed values where the seed gives numbers, else project defaults (README). */
export interface OptimizerThresholds {
  /** Seed: bandwidth bounds (bytes/s) of the buffer tiers, `> 10 MB/s` and `> 100 MB/s` (MiB/s). */
  bandwidthBounds: readonly [number, number];
  /** Seed: buffer per bandwidth tier: 64 KiB, 256 KiB, 1 MiB. */
  bufferSizes: readonly [number, number, number];
  /** Seed: compress below this bandwidth (`throughput < 10.0` MB/s), between machines only. */
  lowBandwidthBytesPerSec: number;
  /** Below this bandwidth deflate runs at `slowLinkLevel`, above at `fastLinkLevel`. */
  deepCompressionBytesPerSec: number;
  slowLinkLevel: number;
  fastLinkLevel: number;
  /** Compress only payloads whose measured compressed/original ratio is at most this (unknown counts as compressible). */
  maxCompressionRatio: number;
  /** RTT bounds (ms) of the batch tiers: local, LAN, WAN. */
  rttBoundsMs: readonly [number, number];
  batchSizes: readonly [number, number, number];
  batchDelaysMs: readonly [number, number, number];
  /** Message-rate bounds (msg/s) of the shm idle tiers: park, adaptive, spin. */
  shmRateBounds: readonly [number, number];
  /** Timeouts are 10 x RTO (RFC 6298: SRTT + 4 RTTVAR) rounded up to a power-of-two step, within these bounds. */
  minTimeoutMs: number;
  maxTimeoutMs: number;
}

/** The default thresholds (seed numbers for buffer and compression; the rest documented in the README). */
export const DEFAULT_OPTIMIZER_THRESHOLDS: Readonly<OptimizerThresholds> = Object.freeze({
  bandwidthBounds: [10 * MiB, 100 * MiB] as const,
  bufferSizes: [64 * 1024, 256 * 1024, 1024 * 1024] as const,
  lowBandwidthBytesPerSec: 10 * MiB,
  deepCompressionBytesPerSec: 2 * MiB,
  slowLinkLevel: 6,
  fastLinkLevel: 1,
  maxCompressionRatio: 0.9,
  rttBoundsMs: [1, 20] as const,
  batchSizes: [64, 256, 1024] as const,
  batchDelaysMs: [0, 1, 5] as const,
  shmRateBounds: [1_000, 100_000] as const,
  minTimeoutMs: 2000,
  maxTimeoutMs: 60_000,
});

/** How the optimizer avoids flapping. */
export interface HysteresisOptions {
  /** A threshold is crossed only when the value passes it by this fraction (default 0.2: up at x1.2, down at x0.8). */
  band: number;
  /** The same new config must come out of this many consecutive updates before it is emitted (default 3). */
  confirmations: number;
  /** At least this many ms between two emitted changes for one peer (default 2000). */
  minHoldMs: number;
}

/** Options of {@link AdaptiveOptimizer}. */
export interface OptimizerOptions {
  thresholds?: Partial<OptimizerThresholds>;
  hysteresis?: Partial<HysteresisOptions>;
  /** Clock in ms (default `performance.now()`). */
  now?: () => number;
  /** What a slow link gets (default 'best': zstd where both ends have it, else deflate). */
  compression?: Exclude<OptimizerCompression, 'none'>;
}

/** What the optimizer knows besides the measurements. */
export interface OptimizerContext {
  /** The peer runs on this machine (no compression; the shm idle strategy follows the message rate). */
  sameMachine?: boolean;
}

/** A config change pushed to subscribers. */
export interface ConfigChange {
  peer: string;
  config: TransportConfig;
  previous: TransportConfig;
  /** One sentence per changed field, e.g. "bandwidth 1.19 MiB/s < 10.00 MiB/s -> best compression, deflate level 6". */
  reasons: string[];
}

interface Tiers {
  bandwidth?: number;
  level?: number;
  rtt?: number;
  timeout?: number;
  shmRate?: number;
  compressible?: boolean;
}

interface PeerTuning {
  config: TransportConfig;
  tiers: Tiers;
  pending?: {
    config: TransportConfig;
    tiers: Tiers;
    reasons: Map<keyof TransportConfig, string>;
    count: number;
  };
  lastChangeMs: number;
}

/**
 * The tier of `value` among ascending `bounds`, moving from `current` only when the value passes a
 * bound by the hysteresis band. Without a current tier, the plain tier.
 */
export function tierWithHysteresis(
  value: number,
  bounds: readonly number[],
  current: number | undefined,
  band: number,
): number {
  if (current === undefined) {
    let t = 0;
    while (t < bounds.length && value > bounds[t]!) t++;
    return t;
  }
  let t = current;
  while (t < bounds.length && value > bounds[t]! * (1 + band)) t++;
  while (t > 0 && value < bounds[t - 1]! * (1 - band)) t--;
  return t;
}

function rate(bytesPerSec: number): string {
  return `${(bytesPerSec / MiB).toFixed(2)} MiB/s`;
}

function sameConfig(a: TransportConfig, b: TransportConfig): boolean {
  return (Object.keys(a) as (keyof TransportConfig)[]).every((k) => a[k] === b[k]);
}

/**
 * From measured link conditions to a TransportConfig per peer, with hysteresis (a band around each
 * threshold, several confirming updates and a minimum hold time), pushing each change to subscribers.
 */
export class AdaptiveOptimizer {
  private readonly thresholds: OptimizerThresholds;
  private readonly hysteresis: HysteresisOptions;
  private readonly now: () => number;
  private readonly compression: Exclude<OptimizerCompression, 'none'>;
  private readonly peers = new Map<string, PeerTuning>();
  private readonly listeners = new Set<(change: ConfigChange) => void>();

  constructor(options: OptimizerOptions = {}) {
    this.thresholds = { ...DEFAULT_OPTIMIZER_THRESHOLDS, ...options.thresholds };
    this.hysteresis = { band: 0.2, confirmations: 3, minHoldMs: 2000, ...options.hysteresis };
    this.now = options.now ?? (() => performance.now());
    this.compression = options.compression ?? 'best';
    if (!['best', 'fast', 'zstd', 'lz4', 'deflate'].includes(this.compression)) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        `AdaptiveOptimizer: compression must be best, fast, zstd, lz4 or deflate, got ${String(this.compression)}`,
      );
    }
    const { band, confirmations, minHoldMs } = this.hysteresis;
    if (
      !(band >= 0 && band < 1) ||
      !Number.isSafeInteger(confirmations) ||
      confirmations < 1 ||
      !(minHoldMs >= 0)
    ) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        'AdaptiveOptimizer: band must be in [0, 1), confirmations >= 1, minHoldMs >= 0',
      );
    }
  }

  /** The config in force for `peer` (the default until a change was emitted). */
  configFor(peer: string): TransportConfig {
    return { ...(this.peers.get(peer)?.config ?? DEFAULT_TRANSPORT_CONFIG) };
  }

  /** Calls `listener` with every emitted change; returns the function that unsubscribes it. */
  subscribe(listener: (change: ConfigChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Feeds one measurement of the link to `peer`; returns the config in force afterwards. A change is
   * emitted when the same new config came out `confirmations` times in a row and `minHoldMs` passed.
   */
  update(peer: string, condition: LinkCondition, context: OptimizerContext = {}): TransportConfig {
    if (typeof peer !== 'string' || peer.length === 0) {
      throw tmeshError('E_INVALID_ARGUMENT', 'AdaptiveOptimizer.update: peer must be a non-empty string');
    }
    let tuning = this.peers.get(peer);
    if (!tuning) {
      tuning = { config: { ...DEFAULT_TRANSPORT_CONFIG }, tiers: {}, lastChangeMs: Number.NEGATIVE_INFINITY };
      this.peers.set(peer, tuning);
    }
    const { config, tiers, reasons } = this.propose(tuning, condition, context.sameMachine ?? false);
    if (sameConfig(config, tuning.config)) {
      tuning.tiers = tiers;
      tuning.pending = undefined;
      return { ...tuning.config };
    }
    if (tuning.pending && sameConfig(tuning.pending.config, config)) {
      tuning.pending.count++;
      tuning.pending.tiers = tiers;
      tuning.pending.reasons = reasons;
    } else {
      tuning.pending = { config, tiers, reasons, count: 1 };
    }
    const nowMs = this.now();
    if (
      tuning.pending.count < this.hysteresis.confirmations ||
      nowMs - tuning.lastChangeMs < this.hysteresis.minHoldMs
    ) {
      return { ...tuning.config };
    }
    const previous = tuning.config;
    tuning.config = config;
    tuning.tiers = tiers;
    tuning.pending = undefined;
    tuning.lastChangeMs = nowMs;
    const change: ConfigChange = {
      peer,
      config: { ...config },
      previous: { ...previous },
      reasons: (Object.keys(config) as (keyof TransportConfig)[])
        .filter((k) => config[k] !== previous[k])
        .map((k) => reasons.get(k) ?? `${k} ${String(previous[k])} -> ${String(config[k])}`)
        .filter((r, i, all) => all.indexOf(r) === i),
    };
    let failure: unknown;
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) {
      throw tmeshError('E_INTERNAL', `AdaptiveOptimizer: a config subscriber threw for peer ${peer}`, {
        cause: failure,
      });
    }
    return { ...config };
  }

  /**
   * Polls `monitor` every `intervalMs` and updates every peer it knows; returns the function that stops
   * polling. `sameMachine(peer)` tells which peers share this machine (default none). An error in one
   * peer's update (a throwing subscriber, a closed monitor) goes to `onError` (default: a process
   * warning) and does not stop the others.
   */
  observe(
    monitor: TransportMonitor,
    options: {
      intervalMs?: number;
      sameMachine?: (peer: string) => boolean;
      onError?: (error: unknown) => void;
    } = {},
  ): () => void {
    const intervalMs = options.intervalMs ?? 1000;
    if (!(intervalMs > 0))
      throw tmeshError('E_INVALID_ARGUMENT', 'AdaptiveOptimizer.observe: intervalMs must be > 0');
    const onError =
      options.onError ??
      ((error: unknown) => process.emitWarning(error instanceof Error ? error : String(error)));
    const timer = setInterval(() => {
      for (const peer of monitor.peers()) {
        try {
          this.update(peer, monitor.linkCondition(peer), {
            sameMachine: options.sameMachine?.(peer) ?? false,
          });
        } catch (error) {
          onError(error);
        }
      }
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private propose(
    tuning: PeerTuning,
    condition: LinkCondition,
    sameMachine: boolean,
  ): { config: TransportConfig; tiers: Tiers; reasons: Map<keyof TransportConfig, string> } {
    const th = this.thresholds;
    const band = this.hysteresis.band;
    const config: TransportConfig = { ...tuning.config };
    const tiers: Tiers = { ...tuning.tiers };
    const reasons = new Map<keyof TransportConfig, string>();

    const bandwidth = condition.bandwidthBytesPerSec;
    if (bandwidth !== undefined) {
      tiers.bandwidth = tierWithHysteresis(bandwidth, th.bandwidthBounds, tuning.tiers.bandwidth, band);
      config.bufferSize = th.bufferSizes[tiers.bandwidth as 0 | 1 | 2];
      reasons.set('bufferSize', `bandwidth ${rate(bandwidth)} -> buffer ${config.bufferSize / 1024} KiB`);
      tiers.level = tierWithHysteresis(bandwidth, [th.deepCompressionBytesPerSec], tuning.tiers.level, band);
    }
    const ratio = condition.compressionRatio;
    if (ratio !== undefined) {
      const margin = band / 4;
      tiers.compressible =
        tuning.tiers.compressible === undefined
          ? ratio <= th.maxCompressionRatio
          : tuning.tiers.compressible
            ? ratio <= th.maxCompressionRatio + margin
            : ratio <= th.maxCompressionRatio - margin;
    }
    // Compression: between machines, on a slow link (hysteresis on the seed's 10 MiB/s), compressible payloads.
    if (sameMachine) {
      config.compression = 'none';
      config.compressionLevel = 0;
      reasons.set('compression', 'same machine -> compression off');
    } else if (bandwidth !== undefined) {
      const low = tierWithHysteresis(
        bandwidth,
        [th.lowBandwidthBytesPerSec],
        tuning.config.compression === 'none' ? (tuning.tiers.bandwidth === undefined ? undefined : 1) : 0,
        band,
      );
      const compressible = tiers.compressible ?? true;
      if (low === 0 && compressible) {
        config.compression = this.compression;
        config.compressionLevel = tiers.level === 0 ? th.slowLinkLevel : th.fastLinkLevel;
        reasons.set(
          'compression',
          `bandwidth ${rate(bandwidth)} < ${rate(th.lowBandwidthBytesPerSec)}${ratio === undefined ? '' : `, ratio ${ratio.toFixed(2)}`} -> ${this.compression} compression, deflate level ${config.compressionLevel}`,
        );
      } else {
        config.compression = 'none';
        config.compressionLevel = 0;
        reasons.set(
          'compression',
          low === 0
            ? `payloads do not compress (ratio ${ratio!.toFixed(2)}) -> compression off`
            : `bandwidth ${rate(bandwidth)} >= ${rate(th.lowBandwidthBytesPerSec)} -> compression off`,
        );
      }
    }
    const compressionWhy = reasons.get('compression');
    if (compressionWhy !== undefined) reasons.set('compressionLevel', compressionWhy);

    const rtt = condition.rttMs;
    if (rtt !== undefined) {
      tiers.rtt = tierWithHysteresis(rtt, th.rttBoundsMs, tuning.tiers.rtt, band);
      const t = tiers.rtt as 0 | 1 | 2;
      config.batchSize = th.batchSizes[t];
      config.batchDelayMs = th.batchDelaysMs[t];
      const why = `rtt ${rtt.toFixed(3)} ms -> batch ${config.batchSize} / ${config.batchDelayMs} ms`;
      reasons.set('batchSize', why);
      reasons.set('batchDelayMs', why);
      // Timeout steps: minTimeoutMs * 2^k, k chosen so that the step covers 10 x RTO.
      const rto = rtt + 4 * (condition.rttVarMs ?? rtt / 2);
      const steps: number[] = [];
      for (let s = th.minTimeoutMs; s < th.maxTimeoutMs; s *= 2) steps.push(s / 10);
      tiers.timeout = tierWithHysteresis(rto, steps, tuning.tiers.timeout, band);
      config.timeoutMs = Math.min(th.maxTimeoutMs, th.minTimeoutMs * 2 ** tiers.timeout);
      config.connectTimeoutMs = config.timeoutMs;
      const timeoutWhy = `rto ${rto.toFixed(1)} ms -> timeout ${config.timeoutMs} ms`;
      reasons.set('timeoutMs', timeoutWhy);
      reasons.set('connectTimeoutMs', timeoutWhy);
    }

    const messageRate = condition.messagesPerSec;
    if (sameMachine && messageRate !== undefined) {
      tiers.shmRate = tierWithHysteresis(messageRate, th.shmRateBounds, tuning.tiers.shmRate, band);
      config.shmIdle = (['park', 'adaptive', 'spin'] as const)[tiers.shmRate as 0 | 1 | 2];
      reasons.set('shmIdle', `${messageRate.toFixed(0)} msg/s -> shm idle ${config.shmIdle}`);
    }
    return { config, tiers, reasons };
  }
}
