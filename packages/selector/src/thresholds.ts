/** The adaptive rule's default thresholds, from the seed design. */
export const DEFAULT_THRESHOLDS = Object.freeze({
  /**
   * The seed compresses when throughput is below `10.0` "MB/s", computed as bytes / seconds / 1024 / 1024,
   * so the threshold is 10 MiB/s.
   */
  lowBandwidthBytesPerSec: 10 * 1024 * 1024,
  /**
   * The seed names `SHARED_MEMORY_THRESHOLD` for "large data" without giving a number; we use 64 KiB,
   * the seed's smallest transport buffer (`64 * 1024`), so a large message is one that no longer fits it.
   */
  largeMessageBytes: 64 * 1024,
});
