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
