import { FixedFrameDecoder, type FrameHeader, RUST_FRAME, SWIFT_FRAME, sealFrame } from '@tmesh/core';
import { describe, expect, it } from 'vitest';
import { FixedStreamReader } from './framing.js';

function frames(layout: typeof RUST_FRAME, count: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const size = (i * 37) % 300;
    const f = new Uint8Array(layout.headerSize + size);
    for (let j = 0; j < size; j++) f[layout.headerSize + j] = (i + j) & 255;
    parts.push(
      sealFrame(layout, f, {
        messageType: 1 + (i % 200),
        flags: i % 3,
        sequence: i * 1000,
        timestamp: 1_700_000_000_000 + i,
      }),
    );
  }
  return Buffer.concat(parts);
}

function read(reader: FixedStreamReader, chunks: Uint8Array[]): { header: FrameHeader; payload: number[] }[] {
  const out: { header: FrameHeader; payload: number[] }[] = [];
  for (const c of chunks) reader.push(c, (header, payload) => out.push({ header, payload: [...payload] }));
  return out;
}

describe('FixedStreamReader', () => {
  for (const layout of [RUST_FRAME, SWIFT_FRAME]) {
    it(`${layout.wire}: reads the same frames as core's FixedFrameDecoder however the stream is cut`, () => {
      const stream = frames(layout, 60);
      const expected = new FixedFrameDecoder(layout)
        .push(stream)
        .map((f) => ({ header: f.header, payload: [...f.payload] }));
      expect(expected).toHaveLength(60);
      for (const step of [1, 2, 5, 27, 28, 31, 32, 33, 100, 999, stream.length]) {
        const chunks: Uint8Array[] = [];
        for (let o = 0; o < stream.length; o += step) chunks.push(stream.slice(o, o + step));
        expect(read(new FixedStreamReader(layout, 1 << 20), chunks)).toEqual(expected);
      }
    });
  }

  it('refuses a bad magic, an oversized frame before allocating, and a bad checksum, then stays failed', () => {
    const good = frames(RUST_FRAME, 1);
    const bad = Uint8Array.from(good);
    bad[0] = 0;
    expect(() => read(new FixedStreamReader(RUST_FRAME, 1 << 20), [bad])).toThrow(
      expect.objectContaining({ code: 'E_BAD_MAGIC' }),
    );
    const big = Uint8Array.from(good.subarray(0, 32));
    new DataView(big.buffer).setUint32(8, 0xfffffff0, true);
    // Split inside the header too: the size is checked as soon as the header is whole.
    expect(() =>
      read(new FixedStreamReader(RUST_FRAME, 1 << 20), [big.subarray(0, 10), big.subarray(10)]),
    ).toThrow(expect.objectContaining({ code: 'E_FRAME_TOO_LARGE' }));
    const many = frames(RUST_FRAME, 3);
    many[many.length - 1]! ^= 0xff;
    const reader = new FixedStreamReader(RUST_FRAME, 1 << 20);
    expect(() => read(reader, [many])).toThrow(expect.objectContaining({ code: 'E_CHECKSUM' }));
    expect(() => read(reader, [good])).toThrow(expect.objectContaining({ code: 'E_CHECKSUM' }));
  });
});

/** Frames with payloads of the given sizes (bytes a function of frame and position). */
function sized(layout: typeof RUST_FRAME, sizes: number[]): Uint8Array {
  return Buffer.concat(
    sizes.map((size, i) => {
      const f = new Uint8Array(layout.headerSize + size);
      for (let j = 0; j < size; j++) f[layout.headerSize + j] = (i * 7 + j + (j >> 8)) & 255;
      return sealFrame(layout, f, { messageType: 1 + i, flags: 0, sequence: i, timestamp: 1 });
    }),
  );
}

describe('FixedStreamReader direct reads (target/filled)', () => {
  const sizes = [200_000, 3, 0, 70_000, 1 << 20, 5, 40_000, 100];

  it('reads written into target() at random sizes, mixed with pushed chunks, give the same frames', () => {
    for (const layout of [RUST_FRAME, SWIFT_FRAME]) {
      const stream = sized(layout, sizes);
      const expected = new FixedFrameDecoder(layout)
        .push(stream)
        .map((f) => ({ header: f.header, payload: Buffer.from(f.payload).toString('base64') }));
      for (const seed of [1, 2, 3]) {
        let x = seed;
        const rand = (n: number) => {
          x = (x * 1103515245 + 12345) % 2147483648;
          return 1 + (x % n);
        };
        const reader = new FixedStreamReader(layout, 2 << 20);
        const out: { header: FrameHeader; payload: Uint8Array }[] = [];
        const emit = (header: FrameHeader, payload: Uint8Array) => out.push({ header, payload });
        let pos = 0;
        let direct = 0;
        while (pos < stream.length) {
          const target = reader.target(1000);
          if (target) {
            const n = Math.min(rand(150_000), target.length);
            target.set(stream.subarray(pos, pos + n));
            reader.filled(target, n, emit);
            direct += n;
            pos += n;
          } else {
            const n = rand(9000);
            reader.push(stream.slice(pos, pos + n), emit);
            pos += n;
          }
        }
        const got = out.map((f) => ({
          header: f.header,
          payload: Buffer.from(f.payload).toString('base64'),
        }));
        expect(got).toEqual(expected);
        expect(direct).toBeGreaterThan(stream.length / 2);
      }
    }
  });

  it('a chunk pushed while a target is out moves the frame: a late read into the old target touches no payload', () => {
    const stream = sized(RUST_FRAME, [100_000, 10, 100_000]);
    const hs = RUST_FRAME.headerSize;
    const endA = hs + 100_000;
    const reader = new FixedStreamReader(RUST_FRAME, 1 << 20);
    const out: Uint8Array[] = [];
    const emit = (_h: FrameHeader, payload: Uint8Array) => out.push(payload);
    reader.push(stream.slice(0, 1000), emit);
    const stale = reader.target(1)!;
    expect(stale.length).toBe(endA - 1000);
    // The stream goes on through a chunk (as one a paused socket held would), completing frame A.
    reader.push(stream.slice(1000, endA + 20), emit);
    expect(out).toHaveLength(1);
    const a = Uint8Array.from(out[0]!);
    // The read under way lands in the old target: the next bytes of the stream.
    const k = 30_000;
    stale.set(stream.subarray(endA + 20, endA + 20 + k));
    reader.filled(stale, k, emit);
    expect(out).toHaveLength(2);
    reader.push(stream.slice(endA + 20 + k), emit);
    expect(out).toHaveLength(3);
    expect(Buffer.from(out[0]!).equals(a)).toBe(true); // frame A, delivered before the late read, is unchanged
    expect(Buffer.from(out[1]!).equals(stream.subarray(endA + hs, endA + hs + 10))).toBe(true);
    expect(Buffer.from(out[2]!).equals(stream.subarray(stream.length - 100_000))).toBe(true);
  });

  it('a direct read longer than the target is E_INTERNAL, and the reader stays failed', () => {
    const stream = sized(RUST_FRAME, [100_000]);
    const reader = new FixedStreamReader(RUST_FRAME, 1 << 20);
    const emit = () => {};
    reader.push(stream.slice(0, 1000), emit);
    const target = reader.target(1)!;
    expect(() => reader.filled(target, target.length + 1, emit)).toThrow(
      expect.objectContaining({ code: 'E_INTERNAL' }),
    );
  });
});
