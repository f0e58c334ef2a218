/**
 * zstd and lz4 payload compression from the native addon (crates/node/src/compress.rs), with the exact
 * bytes of docs/PROTOCOL.md section 7.9 that the Rust peer writes with the same crates. Import it as
 * `@tmesh/shm-native/compress`; when the addon cannot load here, `compressionAvailable()` says why and
 * every function throws E_NATIVE_UNAVAILABLE (callers fall back to deflate from `node:zlib`).
 */
import { tmeshError } from '@tmesh/core';
import { loadNativeModule, toTmeshError } from './native.js';

interface RawCompress {
  zstdCompress(data: Uint8Array, level: number): Buffer;
  zstdDecompress(data: Uint8Array, maxSize: number): Buffer;
  lz4Compress(data: Uint8Array): Buffer;
  lz4Decompress(data: Uint8Array, maxSize: number): Buffer;
}

/** zstd's own default level; 1 is fastest, 19 the strongest this binding accepts. */
export const ZSTD_DEFAULT_LEVEL = 3;

let raw: RawCompress | undefined;
let unavailable: string | undefined;

function binding(): RawCompress {
  if (raw) return raw;
  if (unavailable === undefined) {
    try {
      const mod = loadNativeModule() as Partial<RawCompress>;
      if (typeof mod.zstdCompress === 'function' && typeof mod.lz4Decompress === 'function') {
        raw = mod as RawCompress;
        return raw;
      }
      unavailable = 'the loaded shared-memory addon predates compression (rebuild it)';
    } catch (e) {
      unavailable = (e as Error).message;
    }
  }
  throw tmeshError('E_NATIVE_UNAVAILABLE', `zstd/lz4 need the native addon: ${unavailable}`);
}

/** Whether zstd and lz4 work here, and if not, why. */
export function compressionAvailable(): { available: boolean; reason?: string } {
  try {
    binding();
    return { available: true };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}

function checkData(data: Uint8Array, what: string): void {
  if (!(data instanceof Uint8Array)) throw tmeshError('E_INVALID_ARGUMENT', `${what} needs a Uint8Array`);
}

function checkMax(maxSize: number, what: string): void {
  if (!(Number.isInteger(maxSize) && maxSize >= 0 && maxSize <= 0xffffffff)) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `${what}: maxSize must be an integer in 0..2^32-1, got ${maxSize}`,
    );
  }
}

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toTmeshError(e);
  }
}

/** One zstd frame with its content size (level 1..19, default 3). */
export function zstdCompress(data: Uint8Array, level: number = ZSTD_DEFAULT_LEVEL): Buffer {
  checkData(data, 'zstdCompress');
  const b = binding();
  return call(() => b.zstdCompress(data, Math.trunc(level)));
}

/**
 * Decompress one zstd frame; E_COMPRESSION when it is corrupt, lacks its content size, is followed by
 * other bytes, or declares more than `maxSize` bytes (checked before anything is allocated).
 */
export function zstdDecompress(data: Uint8Array, maxSize: number): Buffer {
  checkData(data, 'zstdDecompress');
  checkMax(maxSize, 'zstdDecompress');
  const b = binding();
  return call(() => b.zstdDecompress(data, maxSize));
}

/** u32 LE decompressed size, then one LZ4 block (lz4_flex `compress_prepend_size`). */
export function lz4Compress(data: Uint8Array): Buffer {
  checkData(data, 'lz4Compress');
  const b = binding();
  return call(() => b.lz4Compress(data));
}

/**
 * Decompress an lz4 payload; E_COMPRESSION when the block is corrupt, holds fewer bytes than declared,
 * or declares more than `maxSize` bytes (checked before anything is allocated).
 */
export function lz4Decompress(data: Uint8Array, maxSize: number): Buffer {
  checkData(data, 'lz4Decompress');
  checkMax(maxSize, 'lz4Decompress');
  const b = binding();
  return call(() => b.lz4Decompress(data, maxSize));
}
