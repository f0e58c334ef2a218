import * as zlib from 'node:zlib';
import { tmeshError } from './errors.js';

// Slicing-by-8 tables for the pure-JS path (IEEE polynomial, reflected 0xEDB88320), all eight in one flat
// Int32Array (table k at k * 256): one typed-array load per lookup, no per-call unpacking of eight
// arrays (1.7-2x faster on the 64-128 byte payloads of small messages than eight separate tables).
// Built when the module loads (8 KiB, microseconds): a lazily built table cost a check of a mutable
// module binding per call (pure JS on 72 bytes: 61 ns before, 50-52 after, `npx tsx
// packages/net/bench/crc.bench.ts`).

function buildTable(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

const TABLE = buildTable();

/** CRC-32 (IEEE, as zlib and Rust `crc32fast` compute it) in pure JavaScript, slicing by 8. */
export function crc32Js(data: Uint8Array, seed = 0): number {
  return crc32JsRange(data, 0, data.length, seed);
}

function crc32JsRange(data: Uint8Array, start: number, end: number, seed: number): number {
  const t = TABLE;
  let crc = ~seed;
  let i = start;
  const n = end;
  const end8 = n - ((n - start) & 7);
  while (i < end8) {
    const a = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ crc;
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
    i += 8;
  }
  while (i < n) crc = t[(crc ^ data[i++]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

type NativeCrc = (data: Uint8Array, value?: number) => number;
const nativeCrc: NativeCrc | undefined =
  typeof (zlib as { crc32?: NativeCrc }).crc32 === 'function'
    ? (zlib as { crc32: NativeCrc }).crc32
    : undefined;

/** Which implementation `crc32` uses: Node's zlib (SIMD, Node >= 20.15) or the pure-JS fallback. */
export const crc32Implementation: 'zlib' | 'js' = nativeCrc ? 'zlib' : 'js';

/**
 * Below this many bytes the pure-JS loop is about as fast as calling into the addon or zlib, or faster
 * (`npx tsx packages/net/bench/crc.bench.ts`: JS 89 ns against the addon's 113 at 128 bytes, 108-112
 * against 115-118 at 160, 130 against 114-119 at 192, 168-176 against 120 at 256; zlib 98-165 ns there).
 */
export const CRC32_NATIVE_THRESHOLD = 192;

/** A CRC-32 (IEEE) implementation: the CRC of `data` continuing from `seed` (the CRC of the bytes before). */
export type Crc32Function = (data: Uint8Array, seed: number) => number;

let accelerator: Crc32Function | undefined;
let acceleratorName: string | undefined;

/**
 * Install a faster CRC-32 for inputs of `CRC32_NATIVE_THRESHOLD` bytes and more, such as the native
 * addon's crc32fast (PCLMULQDQ / AVX-512 folding: 9.2x zlib on 1 MiB here, `npx tsx packages/net/bench/crc.bench.ts`); undefined removes
 * it. @tmesh/core does not depend on the addon: a package that has it (@tmesh/net) installs it. The
 * function is checked against the pure-JS CRC on known inputs (with and without a seed) before it is
 * used, and refused with E_INVALID_ARGUMENT if it disagrees, so the bytes on the wire never change.
 */
export function setCrc32Accelerator(fn: Crc32Function | undefined, name = 'accelerator'): void {
  if (fn === undefined) {
    accelerator = undefined;
    acceleratorName = undefined;
    return;
  }
  const probe = new Uint8Array(4099);
  for (let i = 0; i < probe.length; i++) probe[i] = (i * 2654435761) >>> 24;
  const cases: [Uint8Array, number][] = [
    [probe, 0],
    [probe.subarray(3, 1000), 0],
    [probe.subarray(1000), crc32Js(probe.subarray(0, 1000))],
    [new TextEncoder().encode('123456789'.repeat(20)), 0xcbf43926],
  ];
  for (const [data, seed] of cases) {
    let got: unknown;
    try {
      got = fn(data, seed);
    } catch (cause) {
      throw tmeshError('E_INVALID_ARGUMENT', `CRC-32 ${name} threw on a check input`, { cause });
    }
    if (typeof got !== 'number' || got >>> 0 !== crc32Js(data, seed)) {
      throw tmeshError('E_INVALID_ARGUMENT', `CRC-32 ${name} disagrees with CRC-32 (IEEE) on a check input`);
    }
  }
  accelerator = fn;
  acceleratorName = name;
}

/** The name of the installed accelerator (see {@link setCrc32Accelerator}), or undefined. */
export function crc32Accelerator(): string | undefined {
  return acceleratorName;
}

/**
 * CRC-32 of `data[start, end)`: {@link crc32} without a subarray view for short ranges (the payload
 * of a small frame, checksummed once per message).
 */
export function crc32Range(data: Uint8Array, start: number, end: number, seed = 0): number {
  if (end - start < CRC32_NATIVE_THRESHOLD) return crc32JsRange(data, start, end, seed);
  return crc32(data.subarray(start, end), seed);
}

/**
 * CRC-32 (IEEE) of `data`, continuing from `seed` (the CRC of the bytes before). Inputs of 192 bytes and
 * more go to the installed accelerator if any, else to Node's zlib (3-7 GB/s on 1 MiB here); shorter
 * ones, or all when zlib.crc32 is missing, to pure JS. Known answer: crc32("123456789") === 0xCBF43926.
 */
export function crc32(data: Uint8Array, seed = 0): number {
  if (data.length < CRC32_NATIVE_THRESHOLD) return crc32Js(data, seed);
  if (accelerator !== undefined) return accelerator(data, seed) >>> 0;
  return nativeCrc ? nativeCrc(data, seed) >>> 0 : crc32Js(data, seed);
}
