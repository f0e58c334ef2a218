import { afterEach, describe, expect, it } from 'vitest';
import { codeOf } from '../../../test-support/errors.js';
import {
  CRC32_NATIVE_THRESHOLD,
  crc32,
  crc32Accelerator,
  crc32Js,
  crc32Range,
  setCrc32Accelerator,
} from './crc32.js';

afterEach(() => setCrc32Accelerator(undefined));

const data = (n: number) => new Uint8Array(n).map((_, i) => (i * 13 + 5) & 0xff);

describe('CRC-32 accelerator', () => {
  it('is used for inputs from the threshold up, with seeds, and gives the same answers', () => {
    const seen: number[] = [];
    setCrc32Accelerator((d, seed) => {
      seen.push(d.length);
      return crc32Js(d, seed);
    }, 'counting');
    expect(crc32Accelerator()).toBe('counting');
    seen.length = 0;
    const big = data(10_000);
    expect(crc32(big)).toBe(crc32Js(big));
    expect(crc32(big.subarray(5000), crc32(big.subarray(0, 5000)))).toBe(crc32Js(big));
    expect(crc32(data(CRC32_NATIVE_THRESHOLD - 1))).toBe(crc32Js(data(CRC32_NATIVE_THRESHOLD - 1)));
    expect(seen).toEqual([10_000, 5000, 5000]);
  });

  it('refuses an implementation that disagrees or throws, and keeps the previous one', () => {
    setCrc32Accelerator((d, seed) => crc32Js(d, seed), 'good');
    expect(codeOf(() => setCrc32Accelerator((d) => crc32Js(d, 0), 'ignores seeds'))).toBe(
      'E_INVALID_ARGUMENT',
    );
    expect(codeOf(() => setCrc32Accelerator((d, seed) => crc32Js(d, seed) ^ 1, 'off by one'))).toBe(
      'E_INVALID_ARGUMENT',
    );
    expect(
      codeOf(() =>
        setCrc32Accelerator(() => {
          throw new Error('boom');
        }, 'throws'),
      ),
    ).toBe('E_INVALID_ARGUMENT');
    expect(crc32Accelerator()).toBe('good');
  });

  it('accepts a signed result (as some bindings return) and normalises it', () => {
    setCrc32Accelerator((d, seed) => crc32Js(d, seed) | 0, 'signed');
    const big = data(4096);
    expect(crc32(big)).toBe(crc32Js(big));
    expect(crc32(big)).toBeGreaterThanOrEqual(0);
  });

  it('can be removed', () => {
    setCrc32Accelerator((d, seed) => crc32Js(d, seed), 'x');
    setCrc32Accelerator(undefined);
    expect(crc32Accelerator()).toBeUndefined();
    expect(crc32(data(1000))).toBe(crc32Js(data(1000)));
  });

  it('crc32Range equals crc32 of the subarray, below and above the threshold, with seeds', () => {
    const d = data(3000);
    for (const [start, end] of [
      [0, 0],
      [5, 6],
      [3, 3 + CRC32_NATIVE_THRESHOLD - 1],
      [3, 3 + CRC32_NATIVE_THRESHOLD],
      [17, 2999],
      [0, 3000],
    ] as [number, number][]) {
      expect(crc32Range(d, start, end)).toBe(crc32Js(d.subarray(start, end)));
      expect(crc32Range(d, start, end, 0x12345678)).toBe(crc32Js(d.subarray(start, end), 0x12345678));
    }
  });
});
