import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Implementation, crc32Js } from './crc32.js';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('crc32', () => {
  it.each([
    ['', 0x00000000],
    ['a', 0xe8b7be43],
    ['123456789', 0xcbf43926],
    ['The quick brown fox jumps over the lazy dog', 0x414fa339],
  ])('known answer for %j', (input, expected) => {
    expect(crc32(ascii(input))).toBe(expected);
    expect(crc32Js(ascii(input))).toBe(expected);
  });

  it('uses the zlib implementation on this Node', () => {
    expect(crc32Implementation).toBe('zlib');
  });

  it('continues from a seed exactly like one pass', () => {
    const all = ascii('123456789');
    expect(crc32(all.subarray(4), crc32(all.subarray(0, 4)))).toBe(0xcbf43926);
    expect(crc32Js(all.subarray(4), crc32Js(all.subarray(0, 4)))).toBe(0xcbf43926);
  });

  it('agrees across the JS/zlib threshold when continuing from a seed', () => {
    const data = new Uint8Array(1000).map((_, i) => (i * 31) & 0xff);
    const whole = crc32(data);
    for (const cut of [1, 127, 128, 129, 500]) {
      expect(crc32(data.subarray(cut), crc32(data.subarray(0, cut)))).toBe(whole);
    }
  });

  it('pure JS and zlib agree on random input of every length and alignment', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), (bytes, skip) => {
        const view = bytes.subarray(Math.min(skip, bytes.length));
        expect(crc32Js(view)).toBe(crc32(view));
      }),
      { numRuns: 500 },
    );
  });

  it('returns an unsigned 32-bit number', () => {
    const v = crc32(ascii('\xff\xff\xff'));
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(0xffffffff);
  });
});
