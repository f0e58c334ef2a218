import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { type CompressionAlgorithm, FRAME_FLAGS, tmeshError } from '@tmesh/core';

/** Algorithms this build can write and read. zstd and lz4 have flag values reserved but no codec yet. */
export const SUPPORTED_COMPRESSION: readonly CompressionAlgorithm[] = ['deflate'];

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

/** Compress a payload; deflate is raw RFC 1951 (what Rust `flate2::DeflateEncoder` writes). */
export function compress(algorithm: CompressionAlgorithm, payload: Uint8Array): Buffer {
  if (algorithm === 'deflate') return deflateRawSync(payload, { level: constants.Z_BEST_SPEED });
  throw tmeshError('E_COMPRESSION', `compression ${algorithm} is not available in this build`);
}

/**
 * Decompress the payload of a frame whose flags bits 0-2 are `flag`; the result may not exceed
 * `maxSize` (a small frame cannot inflate into an unbounded allocation).
 */
export function decompress(flag: number, payload: Uint8Array, maxSize: number): Uint8Array {
  if (flag === FRAME_FLAGS.COMPRESSION_NONE) return payload;
  if (flag === FRAME_FLAGS.COMPRESSION_DEFLATE) {
    try {
      return inflateRawSync(payload, { maxOutputLength: maxSize });
    } catch (cause) {
      throw tmeshError(
        'E_COMPRESSION',
        `deflate payload of ${payload.length} bytes could not be inflated (limit ${maxSize})`,
        {
          cause,
        },
      );
    }
  }
  throw tmeshError('E_COMPRESSION', `compression algorithm ${flag} is not available in this build`);
}
