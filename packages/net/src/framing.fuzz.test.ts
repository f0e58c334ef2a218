// Property-based fuzzing of the link's stream framing (RELIABILITY.md, "Fuzzing"): FixedStreamReader
// against a one-frame-at-a-time reference parse, the wire adapters' readers (payload decoding and
// decompression included) on mutated frames of every wire, and universalFrameLength on random bytes.
// Contract: frames whose every check passed, else a TmeshError with a stable code; never another
// exception, and the frames before bad bytes are delivered however the stream is cut. TMESH_FUZZ_RUNS
// scales the runs (CI: the defaults, a few seconds; scripts/fuzz-long.sh: a large count).
import {
  checkPayload,
  crc32,
  type FixedFrameLayout,
  type FrameHeader,
  isTmeshError,
  RUST_FRAME,
  readFrameHeader,
  SWIFT_FRAME,
  sealFrame,
  type WireId,
} from '@tmesh/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SUPPORTED_COMPRESSION } from './compression.js';
import { control, linkRegistry } from './control.js';
import { FixedStreamReader, universalFrameLength, wireAdapter } from './framing.js';
import { FileChunk, registry } from './test-support.js';

const RUNS = Number(process.env.TMESH_FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.TMESH_FUZZ_SEED ?? 0xf4a3);
const params = { numRuns: RUNS, seed: SEED };

type Seen = { header: FrameHeader; payload: number[] };

function sealed(layout: FixedFrameLayout, payload: Uint8Array, type: number, seq: number): Uint8Array {
  const f = new Uint8Array(layout.headerSize + payload.length);
  f.set(payload, layout.headerSize);
  return sealFrame(layout, f, { messageType: type, flags: 0, sequence: seq, timestamp: 1_700_000_000_000 });
}

const edit = fc.oneof(
  fc.record({ at: fc.nat(), set: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ at: fc.nat(), insert: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ at: fc.nat(), remove: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ at: fc.constantFrom(0, 4, 8, 9, 10, 11, 24), set: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff) }),
);
type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never;

function apply(bytes: Uint8Array, edits: Edit[]): Uint8Array {
  let b = Uint8Array.from(bytes);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % b.length;
    if ('set' in e) {
      if (b.length > 0) b[at] = e.set;
    } else if ('insert' in e) b = Uint8Array.from([...b.subarray(0, at), ...e.insert, ...b.subarray(at)]);
    else b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + e.remove)]);
  }
  return b;
}

function pieces(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const to of [...points, bytes.length]) {
    out.push(bytes.slice(from, to));
    from = to;
  }
  return out;
}

/** The reference: one frame at a time with core's header and checksum checks; stops at a partial frame. */
function reference(layout: FixedFrameLayout, b: Uint8Array, max: number): { frames: Seen[]; error?: string } {
  const frames: Seen[] = [];
  let off = 0;
  try {
    while (b.length - off >= layout.headerSize) {
      const header = readFrameHeader(layout, b, off, max);
      const end = off + layout.headerSize + header.payloadSize;
      if (end > b.length) break;
      const payload = b.subarray(off + layout.headerSize, end);
      checkPayload(layout, header, payload);
      frames.push({ header, payload: [...payload] });
      off = end;
    }
    return { frames };
  } catch (error) {
    if (!isTmeshError(error)) throw error;
    return { frames, error: error.code };
  }
}

/** Only TmeshErrors; returns the code or 'ok'. */
function outcome(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (error) {
    if (!isTmeshError(error)) throw error;
    return error.code;
  }
}

describe('fuzz: link stream framing', () => {
  for (const layout of [RUST_FRAME, SWIFT_FRAME]) {
    it(`${layout.wire}: FixedStreamReader = the reference on ${RUNS} mutated streams cut anywhere`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 120 }), { minLength: 1, maxLength: 5 }),
          fc.array(edit, { maxLength: 3 }),
          fc.array(fc.nat(), { maxLength: 10 }),
          fc.constantFrom(layout.headerSize, 64, 200, 1 << 20),
          fc.constantFrom(0, 1, 16),
          (payloads, edits, cuts, max, directMin) => {
            const stream = apply(Buffer.concat(payloads.map((p, i) => sealed(layout, p, 1 + i, i))), edits);
            const want = reference(layout, stream, max);
            const reader = new FixedStreamReader(layout, max);
            const got: Seen[] = [];
            const emit = (header: FrameHeader, payload: Uint8Array) =>
              got.push({ header, payload: [...payload] });
            const code = outcome(() => {
              for (const piece of pieces(stream, cuts)) {
                // directMin > 0: as a socket with onread, write into the frame's buffer whenever it offers one.
                let o = 0;
                while (o < piece.length) {
                  const target = directMin > 0 ? reader.target(directMin) : undefined;
                  if (target === undefined) {
                    reader.push(piece.subarray(o), emit);
                    break;
                  }
                  const n = Math.min(target.length, piece.length - o);
                  target.set(piece.subarray(o, o + n));
                  reader.filled(target, n, emit);
                  o += n;
                }
              }
            });
            expect(got).toEqual(want.frames);
            expect(code).toBe(want.error ?? 'ok');
            if (code !== 'ok') {
              // Poisoned: the same error again.
              expect(outcome(() => reader.push(new Uint8Array(1), () => {}))).toBe(code);
            }
          },
        ),
        params,
      );
    });
  }

  const link = linkRegistry(registry);
  const wires: WireId[] = ['rust', 'swift', 'universal'];
  for (const wire of wires) {
    it(`${wire}: the link reader decodes, decompresses or refuses ${RUNS} mutated frame streams`, () => {
      const adapter = wireAdapter(wire, link);
      const codes = new Map<string, number>();
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              data: fc.uint8Array({ maxLength: 400 }),
              seq: fc.nat({ max: 0xffffffff }),
              compress: fc.constantFrom(undefined, ...SUPPORTED_COMPRESSION),
              control: fc.boolean(),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          fc.array(edit, { maxLength: 3 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          fc.constantFrom(256, 4096, 1 << 20),
          fc.boolean(),
          (frames, edits, cuts, max, reseal) => {
            const parts = frames.map((f) => {
              if (f.control) return adapter.encode(control.Ping, { id: f.seq }, 0, 0);
              const value = { path: 'p', offset: BigInt(f.seq), sequence: f.seq, last: false, data: f.data };
              const plain = adapter.encode(FileChunk, value, f.seq, 0);
              if (!f.compress) return plain;
              return adapter.encodeCompressed(FileChunk, value, plain, f.seq, 0, f.compress) ?? plain;
            });
            const stream = apply(Buffer.concat(parts), edits);
            const layout = wire === 'rust' ? RUST_FRAME : wire === 'swift' ? SWIFT_FRAME : undefined;
            if (reseal && layout && stream.length >= layout.headerSize) {
              // A checksum that matches the mutated payload, so the edits reach decompression and decoding.
              const view = new DataView(stream.buffer, stream.byteOffset);
              const end = Math.min(stream.length, layout.headerSize + view.getUint32(8, true));
              view.setUint32(24, crc32(stream.subarray(layout.headerSize, end)), true);
            }
            const reader = adapter.createReader(max);
            let decoded = 0;
            const code = outcome(() => {
              for (const piece of pieces(stream, cuts)) decoded += reader(piece).length;
            });
            codes.set(code, (codes.get(code) ?? 0) + 1);
            expect(decoded).toBeLessThanOrEqual(stream.length);
            if (edits.length === 0 && stream.length <= max && code === 'ok')
              expect(decoded).toBe(frames.length);
          },
        ),
        params,
      );
      if (process.env.TMESH_FUZZ_DEBUG) console.log(wire, [...codes]);
      // The edits get past the frame checks into payload decoding (and decompression when offered).
      const seen = JSON.stringify([...codes]);
      expect(codes.get('ok'), seen).toBeGreaterThan(0);
      expect(codes.get('E_FRAME_TOO_LARGE'), seen).toBeGreaterThan(0);
      const deep = ['E_DECODE', 'E_FRAME_TRUNCATED', 'E_TRAILING_BYTES', 'E_COMPRESSION', 'E_INVALID_UTF8'];
      expect(
        deep.some((c) => codes.has(c)),
        seen,
      ).toBe(true);
    });
  }

  it(`universalFrameLength: ${RUNS * 10} random prefixes give a length within the limit, undefined or E_FRAME_TOO_LARGE`, () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 12 }),
        fc.constantFrom(1, 127, 128, 65536, 2 ** 32),
        (b, max) => {
          let n: number | undefined;
          const code = outcome(() => {
            n = universalFrameLength(b, max);
          });
          if (code !== 'ok') expect(code).toBe('E_FRAME_TOO_LARGE');
          else if (n !== undefined) {
            expect(Number.isSafeInteger(n)).toBe(true);
            expect(n).toBeGreaterThanOrEqual(1);
            expect(n).toBeLessThanOrEqual(max);
          }
        },
      ),
      { ...params, numRuns: RUNS * 10 },
    );
  });
});
