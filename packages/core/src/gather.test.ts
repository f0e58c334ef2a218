import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.js';
import { isTmeshError } from './errors.js';
import {
  gatherParts,
  openFrame,
  partsChecksum,
  RUST_FRAME,
  resealFrameParts,
  SWIFT_FRAME,
  sealFrame,
  sealFrameParts,
} from './frame.js';

const bytes = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe('gather parts', () => {
  it('cuts the written bytes around the referenced arrays, in order', () => {
    const head = bytes(20, 1);
    const a = bytes(5, 2);
    const b = bytes(3, 3);
    const parts = gatherParts(head, [4, a, 10, b]);
    expect(parts).toHaveLength(5);
    expect(parts[1]).toBe(a);
    expect(parts[3]).toBe(b);
    expect(concat(parts)).toEqual(
      concat([head.subarray(0, 4), a, head.subarray(4, 10), b, head.subarray(10)]),
    );
    // A reference at the very end leaves no empty tail part; an empty array adds no part.
    expect(gatherParts(head, [20, a])).toHaveLength(2);
    expect(gatherParts(head, [8, new Uint8Array(0)])).toHaveLength(2);
  });

  it('checksums the payload across parts like one pass, skipping the header', () => {
    const frame = bytes(300, 9);
    const split = [frame.subarray(0, 10), frame.subarray(10, 40), frame.subarray(40, 41), frame.subarray(41)];
    expect(partsChecksum(32, split)).toBe(crc32(frame.subarray(32)));
    expect(partsChecksum(28, [frame.subarray(0, 28), frame.subarray(28)])).toBe(crc32(frame.subarray(28)));
  });

  it.each([RUST_FRAME, SWIFT_FRAME])('seals parts to the same bytes as sealFrame ($wire)', (layout) => {
    const payload = bytes(5000, 4);
    const meta = { messageType: 9, flags: 0x10, sequence: 77, timestamp: 1_700_000_000_123 };
    const whole = new Uint8Array(layout.headerSize + payload.length);
    whole.set(payload, layout.headerSize);
    sealFrame(layout, whole, meta);
    const first = new Uint8Array(layout.headerSize + 100);
    first.set(payload.subarray(0, 100), layout.headerSize);
    const parts = sealFrameParts(layout, [first, payload.subarray(100, 4000), payload.subarray(4000)], meta);
    expect(concat(parts)).toEqual(whole);
    expect(openFrame(layout, concat(parts)).header.sequence).toBe(77);
    expect(resealFrameParts(layout, parts)).toBe(false);
  });

  it('refuses a first part too short for the header and bad header fields', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return isTmeshError(error) ? error.code : String(error);
      }
      return 'no error';
    };
    expect(codeOf(() => sealFrameParts(RUST_FRAME, [new Uint8Array(31)], { messageType: 1 }))).toBe(
      'E_INVALID_ARGUMENT',
    );
    expect(codeOf(() => sealFrameParts(RUST_FRAME, [], { messageType: 1 }))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => sealFrameParts(RUST_FRAME, [new Uint8Array(40)], { messageType: 256 }))).toBe(
      'E_RANGE',
    );
  });
});
