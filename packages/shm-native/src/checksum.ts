/**
 * CRC-32 (IEEE) from the native addon (crates/node/src/checksum.rs, the `crc32fast` crate: PCLMULQDQ /
 * AVX-512 folding, several times Node's zlib.crc32 on large inputs). Import it as
 * `@tmesh/shm-native/checksum`; `nativeCrc32()` is undefined when the addon cannot load here (or
 * predates the function), and callers keep their own CRC.
 */
import { loadNativeModule } from './native.js';

/** The CRC of `data` continuing from `seed` (the CRC of the bytes before it; 0 to start). */
export type NativeCrc32 = (data: Uint8Array, seed: number) => number;

let fn: NativeCrc32 | undefined;
let reason: string | undefined;
let tried = false;

/** The addon's CRC-32, or undefined when it is not available here (see {@link nativeCrc32Unavailable}). */
export function nativeCrc32(): NativeCrc32 | undefined {
  if (tried) return fn;
  tried = true;
  try {
    const mod = loadNativeModule() as { crc32?: NativeCrc32 };
    if (typeof mod.crc32 === 'function') fn = mod.crc32;
    else reason = 'the loaded shared-memory addon predates crc32 (rebuild it)';
  } catch (e) {
    reason = (e as Error).message;
  }
  return fn;
}

/** Why {@link nativeCrc32} is undefined (undefined when it is available). */
export function nativeCrc32Unavailable(): string | undefined {
  nativeCrc32();
  return reason;
}
