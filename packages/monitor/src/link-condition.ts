import type { WireId } from '@tmesh/core';

/**
 * What the monitor knows about the link to one peer. It has the same shape as @tmesh/selector's
 * `LinkCondition` plus a few fields the optimizer uses, so the manager hands one object to both (the two
 * packages do not import each other). Every field is absent until something was measured.
 */
export interface LinkCondition {
  /** Smoothed round-trip time from heartbeats (RFC 6298 SRTT), milliseconds. */
  rttMs?: number;
  /** RTT variation (RFC 6298 RTTVAR), milliseconds. */
  rttVarMs?: number;
  /** Lowest heartbeat RTT seen, milliseconds. */
  minRttMs?: number;
  /** Bottleneck bandwidth estimate: median rate of the recent large transfers, wire bytes per second. */
  bandwidthBytesPerSec?: number;
  /** Failed or timed-out share of the transmissions in the window, 0..1. */
  errorRate?: number;
  /** Median rate of recent large transfers per wire, bytes per second. */
  wireThroughput?: Partial<Record<WireId, number>>;
  /** Compressed size / original size of the recent compression samples (lower is more compressible). */
  compressionRatio?: number;
  /** Messages per second over the window, all strategies. */
  messagesPerSec?: number;
  /** Wire bytes per second over the window, all strategies. */
  throughputBytesPerSec?: number;
}
