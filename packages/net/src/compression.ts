import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { type CompressionAlgorithm, FRAME_FLAGS, tmeshError } from '@tmesh/core';
import {
  compressionAvailable,
  lz4Compress,
  lz4Decompress,
  zstdCompress,
  zstdDecompress,
} from '@tmesh/shm-native/compress';

/**
 * Payload compression of network frames (docs/PROTOCOL.md section 7.9): deflate (raw RFC 1951, what Rust
 * `flate2::DeflateEncoder` writes) from `node:zlib` everywhere; zstd (one frame with its content size)
 * and lz4 (u32 LE size + one LZ4 block) from the native addon (`@tmesh/shm-native/compress`, the same
 * `zstd` and `lz4_flex` crates the Rust peer uses), offered only when the addon loads here.
 */

/** Level of zstd frames (zstd's default: a better ratio than deflate level 1, at 1.1-1.5x its speed here). */
export const ZSTD_LEVEL = 3;

const NATIVE = compressionAvailable();

/**
 * Algorithms this build can write and read, in the order a Hello offers them: zstd, lz4 (when the native
 * addon loads here), then deflate. Without the addon only deflate is offered, so a peer never sends
 * this side zstd or lz4.
 */
export const SUPPORTED_COMPRESSION: readonly CompressionAlgorithm[] = Object.freeze(
  NATIVE.available ? ['zstd', 'lz4', 'deflate'] : ['deflate'],
);

/** Why zstd and lz4 are not offered here (undefined when they are). */
export const COMPRESSION_UNAVAILABLE_REASON: string | undefined = NATIVE.reason;

/**
 * What `LinkConfig.compression` may name besides an algorithm: `'best'`, the best ratio for the CPU it
 * costs (zstd, then deflate, then lz4), for slow links; `'fast'`, the least CPU per byte (lz4, then
 * zstd, then deflate), for links where the CPU is the bottleneck but bytes still cost.
 */
export type CompressionChoice = CompressionAlgorithm | 'best' | 'fast' | 'off';

const BEST: readonly CompressionAlgorithm[] = ['zstd', 'deflate', 'lz4'];
const FAST: readonly CompressionAlgorithm[] = ['lz4', 'zstd', 'deflate'];

/** The algorithm `choice` stands for among the negotiated ones (undefined when none fits). */
export function pickCompression(
  choice: 'best' | 'fast',
  negotiated: readonly CompressionAlgorithm[],
): CompressionAlgorithm | undefined {
  return (choice === 'best' ? BEST : FAST).find((a) => negotiated.includes(a));
}

/** The flag bits (0-2) of an algorithm. */
export function compressionFlag(algorithm: CompressionAlgorithm): number {
  switch (algorithm) {
    case 'none':
      return FRAME_FLAGS.COMPRESSION_NONE;
    case 'deflate':
      return FRAME_FLAGS.COMPRESSION_DEFLATE;
    case 'zstd':
      return FRAME_FLAGS.COMPRESSION_ZSTD;
    case 'lz4':
      return FRAME_FLAGS.COMPRESSION_LZ4;
  }
}

const BY_FLAG: readonly (CompressionAlgorithm | undefined)[] = ['none', 'deflate', 'zstd', 'lz4'];

/** The algorithm of flag bits 0-2 (undefined for the unassigned values 4-7). */
export function algorithmOfFlag(flag: number): CompressionAlgorithm | undefined {
  return BY_FLAG[flag & FRAME_FLAGS.COMPRESSION_MASK];
}

/** Compress a payload with `algorithm` (E_COMPRESSION when this build cannot write it). */
export function compress(algorithm: CompressionAlgorithm, payload: Uint8Array): Uint8Array {
  switch (algorithm) {
    case 'deflate':
      return deflateRawSync(payload, { level: constants.Z_BEST_SPEED });
    case 'zstd':
      if (NATIVE.available) return zstdCompress(payload, ZSTD_LEVEL);
      break;
    case 'lz4':
      if (NATIVE.available) return lz4Compress(payload);
      break;
    default:
  }
  throw tmeshError(
    'E_COMPRESSION',
    `compression ${algorithm} is not available in this build (supported: ${SUPPORTED_COMPRESSION.join(', ')})`,
  );
}

/**
 * Decompress the payload of a frame whose flags bits 0-2 are `flag`. E_COMPRESSION when the algorithm is
 * not one of `accepted` (what this link negotiated; default: everything this build reads), when the
 * payload is corrupt, or when it would decompress to more than `maxSize` bytes (a small frame cannot
 * inflate into an unbounded allocation: zstd and lz4 declare their size and are refused before
 * allocating, deflate stops at the limit).
 */
export function decompress(
  flag: number,
  payload: Uint8Array,
  maxSize: number,
  accepted: readonly CompressionAlgorithm[] = SUPPORTED_COMPRESSION,
): Uint8Array {
  if (flag === FRAME_FLAGS.COMPRESSION_NONE) return payload;
  const algorithm = algorithmOfFlag(flag);
  if (algorithm === undefined || !accepted.includes(algorithm)) {
    throw tmeshError(
      'E_COMPRESSION',
      `frame compressed with ${algorithm ?? `unknown algorithm ${flag}`}, which this link did not negotiate (accepted: ${accepted.join(', ') || 'none'})`,
      { details: { flag, accepted: [...accepted] } },
    );
  }
  if (algorithm === 'zstd') return zstdDecompress(payload, maxSize);
  if (algorithm === 'lz4') return lz4Decompress(payload, maxSize);
  let plain: Buffer;
  try {
    // node:zlib wants a limit of at least 1 byte; the exact limit is checked below.
    plain = inflateRawSync(payload, { maxOutputLength: Math.max(1, maxSize) });
  } catch (cause) {
    throw tmeshError(
      'E_COMPRESSION',
      `deflate payload of ${payload.length} bytes could not be inflated (limit ${maxSize})`,
      { cause },
    );
  }
  if (plain.length > maxSize) {
    throw tmeshError('E_COMPRESSION', `deflate payload inflates beyond the limit of ${maxSize} bytes`);
  }
  return plain;
}

/** The flag-keyed hooks the universal codec compresses envelope payloads with (codec-universal). */
export const envelopeCompression = Object.freeze({
  compress(flag: number, payload: Uint8Array): Uint8Array {
    const algorithm = algorithmOfFlag(flag);
    if (algorithm === undefined || algorithm === 'none') {
      throw tmeshError('E_COMPRESSION', `unknown compression algorithm ${flag}`);
    }
    return compress(algorithm, payload);
  },
  decompress(flag: number, payload: Uint8Array, maxSize: number): Uint8Array {
    return decompress(flag, payload, maxSize);
  },
});

/** Envelope hooks that accept only `accepted` (a link's negotiated algorithms) when reading. */
export function envelopeCompressionFor(
  accepted: readonly CompressionAlgorithm[],
): typeof envelopeCompression {
  return {
    compress: envelopeCompression.compress,
    decompress: (flag, payload, maxSize) => decompress(flag, payload, maxSize, accepted),
  };
}
