// Property-based fuzzing of the TypeScript side of shared-memory receive (RELIABILITY.md, "Fuzzing"):
// parseBatch splits what crates/ring `Consumer::recv_batch` writes. Its input comes from our own addon,
// which has already checked every record a hostile peer wrote (the cargo-fuzz target ring_consume checks
// that each batch it writes is well formed); here arbitrary batches of that format must come back entry
// for entry, as views. TMESH_FUZZ_RUNS scales the runs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBatch } from './channel.js';

const RUNS = Number(process.env.TMESH_FUZZ_RUNS ?? 1000);

const entry = fc.record({
  data: fc.uint8Array({ maxLength: 70 }),
  type: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 0xfff }),
  sequence: fc.nat({ max: 0xffffffff }),
  timestamp: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
});
type Entry = typeof entry extends fc.Arbitrary<infer E> ? E : never;

/** The batch format of recv_batch: u32 size, u8 type, u8 0, u16 flags, u32 sequence, u32 0, u64 timestamp. */
function encode(entries: Entry[]): Buffer {
  return Buffer.concat(
    entries.map((e) => {
      const b = Buffer.alloc(24 + ((e.data.length + 7) & ~7));
      b.writeUInt32LE(e.data.length, 0);
      b[4] = e.type;
      b.writeUInt16LE(e.flags, 6);
      b.writeUInt32LE(e.sequence, 8);
      b.writeBigUInt64LE(BigInt(e.timestamp), 16);
      b.set(e.data, 24);
      return b;
    }),
  );
}

describe('fuzz: parseBatch', () => {
  it(`${RUNS} arbitrary batches come back entry for entry`, () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), fc.nat({ max: 16 }), (entries, offset) => {
        // At an offset inside a larger buffer, as the pooled receive buffers are.
        const bytes = encode(entries);
        const pool = Buffer.alloc(offset + bytes.length);
        bytes.copy(pool, offset);
        const got = parseBatch(pool.subarray(offset));
        expect(got.map((m) => [[...m.data], m.type, m.flags, m.sequence, m.timestamp])).toEqual(
          entries.map((e) => [[...e.data], e.type, e.flags, e.sequence, e.timestamp]),
        );
        for (const m of got) expect(m.data.buffer).toBe(pool.buffer);
      }),
      { numRuns: RUNS, seed: Number(process.env.TMESH_FUZZ_SEED ?? 0xba7c) },
    );
  });
});
