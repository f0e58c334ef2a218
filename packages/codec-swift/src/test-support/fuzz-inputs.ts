// Random and mutated Swift-wire frames for the fuzz test and the fuzz script. Deterministic (seeded), so
// a failure can be replayed.
import { crc32, MessageRegistry, sampleMessages } from '@tmesh/core';
import { mulberry32 } from '../../../../test-support/prng.js';
import { createSwiftCodec } from '../codec.js';
import { VECTOR_CASES } from './vectors.js';

/** A small, fast, seeded PRNG (mulberry32). */
export const prng = mulberry32;

/** The codec under fuzz and the valid frames the mutations start from. */
export function fuzzSetup(): { codec: ReturnType<typeof createSwiftCodec>; seeds: Uint8Array[] } {
  const codec = createSwiftCodec(
    new MessageRegistry([sampleMessages.FileChunk, sampleMessages.AllTypes, sampleMessages.Metrics]),
  );
  const seeds = VECTOR_CASES.map((c) =>
    codec.encode(c.type, c.value, { sequence: c.sequence, timestamp: 1 }),
  );
  return { codec, seeds };
}

const INTERESTING = [
  0x00, 0x7f, 0x80, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xca, 0xcb, 0xcf, 0xd3, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
  0xff,
];

/**
 * The i-th fuzz input: pure random bytes (sometimes behind a valid header), or a valid frame with a few
 * bytes flipped, inserted, removed or set to "interesting" values; most mutated frames get their size
 * and CRC fixed up so the payload decoder, not only the checksum, is exercised.
 */
export function fuzzInput(rand: () => number, seeds: readonly Uint8Array[]): Uint8Array {
  const pick = (n: number): number => Math.floor(rand() * n);
  const mode = rand();
  if (mode < 0.1) {
    const out = new Uint8Array(pick(80));
    for (let i = 0; i < out.length; i++) out[i] = pick(256);
    return out;
  }
  const seed = seeds[pick(seeds.length)]!;
  let bytes = Array.from(seed);
  const edits = 1 + pick(4);
  for (let e = 0; e < edits; e++) {
    const at = pick(bytes.length);
    const op = rand();
    if (op < 0.4) bytes[at] = bytes[at]! ^ (1 << pick(8));
    else if (op < 0.6) bytes[at] = INTERESTING[pick(INTERESTING.length)]!;
    else if (op < 0.75) bytes.splice(at, 0, pick(256));
    else if (op < 0.9) bytes.splice(at, 1 + pick(3));
    else bytes = bytes.slice(0, at);
  }
  const out = Uint8Array.from(bytes);
  if (mode < 0.2) {
    for (let i = 28; i < out.length; i++) out[i] = pick(256);
  }
  if (mode < 0.9 && out.length >= 28) {
    const view = new DataView(out.buffer);
    // Keep the header honest (size and checksum) so the payload decoder sees the mutation.
    if (rand() < 0.9) view.setUint32(8, out.length - 28, true);
    view.setUint32(24, crc32(out.subarray(28)), true);
  }
  return out;
}
