// Property-based fuzzing of the fixed-header frame layer (RELIABILITY.md, "Fuzzing"): openFrame and
// FixedFrameDecoder on random bytes and on mutated valid frames, cut anywhere. Contract: a frame whose
// every check passed (size, checksum), or a TmeshError with a stable code; the incremental decoder
// yields the same frames and error however the stream is cut (on an error: a prefix of the frames before
// the bad bytes, see below), then stays failed. TMESH_FUZZ_RUNS scales the runs
// (CI: the defaults, a few seconds; scripts/fuzz-long.sh: a large count).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.js';
import { isTmeshError } from './errors.js';
import {
  FixedFrameDecoder,
  type FixedFrameLayout,
  openFrame,
  type RawFrame,
  RUST_FRAME,
  SWIFT_FRAME,
  sealFrame,
} from './frame.js';

const RUNS = Number(process.env.TMESH_FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.TMESH_FUZZ_SEED ?? 0x7e5);
const params = { numRuns: RUNS, seed: SEED };

function frame(layout: FixedFrameLayout, payload: Uint8Array, type: number, seq: number): Uint8Array {
  const f = new Uint8Array(layout.headerSize + payload.length);
  f.set(payload, layout.headerSize);
  return sealFrame(layout, f, {
    messageType: type,
    flags: type & 0x18,
    sequence: seq,
    timestamp: 1_700_000_000_000 + seq,
  });
}

/** A valid frame of the layout, from fast-check's values. */
const validFrame = (layout: FixedFrameLayout) =>
  fc
    .record({
      payload: fc.uint8Array({ maxLength: 300 }),
      type: fc.integer({ min: 0, max: 255 }),
      seq: fc.nat({ max: 0xffffffff }),
    })
    .map(({ payload, type, seq }) => frame(layout, payload, type, seq));

/** A mutation of bytes: overwrite, flip, insert, delete, truncate, or a header field set to an edge value. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('u32' as const),
    field: fc.constantFrom(0, 8, 12, 24),
    value: fc.constantFrom(0, 1, 31, 32, 0x7fffffff, 0x80000000, 0xffffffff),
  }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = Uint8Array.from(bytes);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.kind === 'u32' ? m.field : (m as { at: number }).at % b.length;
    if (m.kind === 'set' && b.length > 0) b[at] = m.value;
    else if (m.kind === 'flip' && b.length > 0) b[at]! ^= 1 << m.bit;
    else if (m.kind === 'insert') b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    else if (m.kind === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.count)]);
    else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'u32' && b.length >= at + 4) new DataView(b.buffer).setUint32(at, m.value, true);
  }
  return b;
}

/** openFrame's contract: a fully checked frame, or a TmeshError. */
function open(layout: FixedFrameLayout, bytes: Uint8Array, max: number): RawFrame | string {
  try {
    const f = openFrame(layout, bytes, max);
    expect(f.payload.length).toBe(f.header.payloadSize);
    expect(bytes.length).toBe(layout.headerSize + f.header.payloadSize);
    expect(bytes.length).toBeLessThanOrEqual(max);
    expect(crc32(f.payload)).toBe(f.header.checksum);
    return f;
  } catch (error) {
    if (!isTmeshError(error)) throw error;
    return error.code;
  }
}

/** Feed `stream` cut at `cuts` into a decoder: the frames before the first error, and its code. */
function incremental(
  layout: FixedFrameLayout,
  stream: Uint8Array,
  cuts: number[],
  max: number,
): { frames: RawFrame[]; error?: string } {
  const decoder = new FixedFrameDecoder(layout, { maxFrameSize: max });
  const frames: RawFrame[] = [];
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  try {
    for (const to of [...points, stream.length]) {
      // Copies: the decoder may keep views of what it was given.
      frames.push(...decoder.push(stream.slice(from, to)));
      from = to;
    }
  } catch (error) {
    if (!isTmeshError(error)) throw error;
    // Poisoned: the next push fails with the same error.
    expect(() => decoder.push(new Uint8Array(1))).toThrow(error);
    return { frames, error: error.code };
  }
  try {
    decoder.end();
    return { frames };
  } catch (error) {
    if (!isTmeshError(error)) throw error;
    return { frames, error: error.code };
  }
}

const plain = (frames: RawFrame[]) => frames.map((f) => ({ header: f.header, payload: [...f.payload] }));

describe('fuzz: fixed-header frames (openFrame, FixedFrameDecoder)', () => {
  for (const layout of [RUST_FRAME, SWIFT_FRAME]) {
    it(`${layout.wire}: ${RUNS} random byte strings through openFrame`, () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 200 }),
          fc.constantFrom(layout.headerSize, 64, 4096),
          (b, max) => {
            const r = open(layout, b, max);
            if (typeof r !== 'string') expect(r.payload.length).toBeLessThanOrEqual(max);
          },
        ),
        params,
      );
    });

    it(`${layout.wire}: ${RUNS} mutated valid frames through openFrame`, () => {
      const codes = new Map<string, number>();
      fc.assert(
        fc.property(validFrame(layout), fc.array(mutation, { minLength: 1, maxLength: 3 }), (f, ms) => {
          const r = open(layout, mutate(f, ms), 1 << 16);
          const code = typeof r === 'string' ? r : 'ok';
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }),
        params,
      );
      // The mutations reach every check, not only the first.
      for (const code of ['E_BAD_MAGIC', 'E_FRAME_TRUNCATED', 'E_CHECKSUM', 'E_TRAILING_BYTES']) {
        expect(codes.get(code), `${code} in ${JSON.stringify([...codes])}`).toBeGreaterThan(0);
      }
    });

    it(`${layout.wire}: ${RUNS} mutated streams decode consistently however they are cut`, () => {
      fc.assert(
        fc.property(
          fc.array(validFrame(layout), { minLength: 1, maxLength: 5 }),
          fc.array(mutation, { maxLength: 2 }),
          fc.array(fc.nat(), { maxLength: 12 }),
          fc.constantFrom(64, 300, 4096),
          (frames, ms, cuts, max) => {
            const stream = mutate(Buffer.concat(frames), ms);
            const whole = incremental(layout, stream, [], max);
            const cut = incremental(layout, stream, cuts, max);
            expect(cut.error).toBe(whole.error);
            if (whole.error === undefined) expect(plain(cut.frames)).toEqual(plain(whole.frames));
            else {
              // A push that throws drops the frames it completed before the bad bytes (the codecs' stream
              // decoders then stay failed), so smaller pieces may deliver more of them: never others.
              const got = plain(cut.frames);
              const all = plain(incremental(layout, stream, [...Array(stream.length).keys()], max).frames);
              expect(got).toEqual(all.slice(0, got.length));
              expect(plain(whole.frames)).toEqual(all.slice(0, whole.frames.length));
            }
            if (ms.length === 0 && frames.every((f) => f.length <= max)) {
              expect(whole.error).toBeUndefined();
              expect(whole.frames).toHaveLength(frames.length);
            }
          },
        ),
        params,
      );
    });
  }
});
