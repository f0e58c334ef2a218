// The native CRC-32 that links install as @tmesh/core's accelerator: same answers as zlib on every
// size and seed (so the bytes on the wire do not change), and in use once a link adapter exists.
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, crc32Accelerator, MessageRegistry } from '@tmesh/core';
import { nativeCrc32, nativeCrc32Unavailable } from '@tmesh/shm-native/checksum';
import { describe, expect, it } from 'vitest';
import { useNativeCrc32, wireAdapter } from './framing.js';

const native = nativeCrc32();
// CI builds the addon, so there it must load; elsewhere a missing build skips with the reason.
const run = native !== undefined || process.env.CI ? describe : describe.skip;
if (!native && !process.env.CI) console.warn(`native CRC-32 tests skipped: ${nativeCrc32Unavailable()}`);

run('native CRC-32 (crc32fast)', () => {
  it('agrees with zlib on sizes around every threshold, with and without a seed', () => {
    const big = new Uint8Array(3 * 1024 * 1024 + 5);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    for (const n of [0, 1, 7, 15, 16, 63, 64, 127, 128, 129, 255, 256, 1000, 4096, 65_535, 65_536, 1 << 20]) {
      for (const start of [0, 1, 13]) {
        const data = big.subarray(start, start + n);
        expect(native!(data, 0)).toBe(zlibCrc32(data));
        const seed = zlibCrc32(big.subarray(0, 3));
        expect(native!(data, seed)).toBe(zlibCrc32(data, seed));
      }
    }
    expect(native!(big, 0)).toBe(zlibCrc32(big));
    expect(native!(new TextEncoder().encode('123456789'), 0)).toBe(0xcbf43926);
  });

  it('is installed as core CRC accelerator by the first link adapter', () => {
    wireAdapter('rust', new MessageRegistry([]));
    expect(useNativeCrc32()).toBe('crc32fast (native addon)');
    expect(crc32Accelerator()).toBe('crc32fast (native addon)');
    const data = new Uint8Array(100_000).map((_, i) => i & 0xff);
    expect(crc32(data)).toBe(zlibCrc32(data));
    expect(crc32(data.subarray(500), crc32(data.subarray(0, 500)))).toBe(zlibCrc32(data));
  });
});
