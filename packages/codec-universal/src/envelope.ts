import { tmeshError } from '@tmesh/core';

// Hand-written reading and writing of the Envelope message (envelope.proto), so the payload bytes are
// written once into the frame and read as a view of it. Field numbers and wire types:
/** Envelope field numbers (envelope.proto). */
export const FIELD = Object.freeze({
  version: 1,
  messageType: 2,
  flags: 3,
  sequence: 4,
  timestamp: 5,
  source: 6,
  destination: 7,
  typeName: 8,
  compression: 9,
  checksum: 10,
  payload: 11,
});

/** Bytes a varint of `value` takes (value < 2^53). */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let n = 5;
  let v = Math.floor(value / 0x800000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 0x80);
  }
  return n;
}

/** Write `value` (0 <= value < 2^53) as a varint at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  while (value > 0x7fffffff) {
    buf[pos++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  while (value > 0x7f) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}

/** Result slots of {@link readVarint} (module scratch, to avoid an allocation per varint). */
export const varint = { lo: 0, hi: 0, pos: 0 };

/**
 * Read a varint at `pos`, not past `end`. Returns false if the bytes end inside it; throws
 * E_VARINT_OVERFLOW for more than 10 bytes or a 10th byte above 1. Result in `varint` (lo, hi 32 bits).
 */
export function readVarint(buf: Uint8Array, pos: number, end: number): boolean {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return false;
    const b = buf[pos++]!;
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x0f) << 28;
      hi = (b & 0x7f) >>> 4;
    } else {
      if (i === 9 && b > 1) break;
      hi |= (b & 0x7f) << (7 * i - 32);
    }
    if (b < 0x80) {
      varint.lo = lo >>> 0;
      varint.hi = hi >>> 0;
      varint.pos = pos;
      return true;
    }
  }
  throw tmeshError(
    'E_VARINT_OVERFLOW',
    `varint at offset ${pos - 1} is longer than 10 bytes or overflows 64 bits`,
  );
}
