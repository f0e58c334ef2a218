import { crc32 } from '@tmesh/core';
import { xorshift32 } from '../../../../test-support/prng.js';

/** A small deterministic PRNG (xorshift32), so fuzz runs are reproducible from a seed. */
export const rng = xorshift32;

/**
 * One fuzz input derived from valid frames: random bytes, a frame with bytes flipped, set, cut,
 * inserted or a length field overwritten, and (half the time) the header's size and CRC fixed up
 * afterwards so the payload decoder, not only the checksum, sees the damage.
 */
export function fuzzInput(frames: readonly Uint8Array[], next: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(next() * n);
  if (next() < 0.1) {
    const out = new Uint8Array(pick(96));
    for (let i = 0; i < out.length; i++) out[i] = pick(256);
    return out;
  }
  let f: Uint8Array = frames[pick(frames.length)]!.slice();
  const edits = 1 + pick(4);
  for (let e = 0; e < edits; e++) {
    const op = pick(6);
    const at = pick(f.length);
    if (op === 0) f[at] = f[at]! ^ (1 << pick(8));
    else if (op === 1) f[at] = [0, 1, 2, 0x7f, 0x80, 0xff][pick(6)]!;
    else if (op === 2) f = f.slice(0, at);
    else if (op === 3) {
      const grown = new Uint8Array(f.length + 1 + pick(8));
      grown.set(f.subarray(0, at));
      for (let i = at; i < at + grown.length - f.length; i++) grown[i] = pick(256);
      grown.set(f.subarray(at), at + grown.length - f.length);
      f = grown;
    } else if (op === 4 && f.length >= at + 8) {
      // A u64 that may be a length prefix: huge, just too big, or zero.
      const v = [0xffffffff, f.length, 0, 0x7fffffff][pick(4)]!;
      new DataView(f.buffer, f.byteOffset).setUint32(at, v, true);
      f[at + 4] = pick(3) === 0 ? 0xff : 0;
    } else if (op === 5 && f.length > 32) {
      f[32 + pick(f.length - 32)] = pick(256);
    }
  }
  if (f.length >= 32 && next() < 0.5) {
    const view = new DataView(f.buffer, f.byteOffset, 32);
    view.setUint32(8, f.length - 32, true);
    view.setUint32(24, crc32(f.subarray(32)), true);
  }
  return f;
}
