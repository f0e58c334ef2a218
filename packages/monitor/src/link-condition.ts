import type { LinkCondition as MeasuredLink } from '@tmesh/core';

/**
 * What the monitor knows about the link to one peer: core's `LinkCondition` (what the selector reads)
 * plus the fields the optimizer uses. Every field is absent until something was measured.
 */
export interface LinkCondition extends MeasuredLink {
  /** RTT variation (RFC 6298 RTTVAR), milliseconds. */
  rttVarMs?: number;
  /** Lowest heartbeat RTT seen, milliseconds. */
  minRttMs?: number;
  /** Compressed size / original size of the recent compression samples (lower is more compressible). */
  compressionRatio?: number;
  /** Messages per second over the window, all strategies. */
  messagesPerSec?: number;
  /** Wire bytes per second over the window, all strategies. */
  throughputBytesPerSec?: number;
}
