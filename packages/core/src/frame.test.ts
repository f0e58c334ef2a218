import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hex } from '../../../test-support/bytes.js';
import { codeOf } from '../../../test-support/errors.js';
import type { TmeshErrorCode } from './errors.js';
import {
  FixedFrameDecoder,
  openFrame,
  RUST_FRAME,
  readFrameHeader,
  SWIFT_FRAME,
  sealFrame,
  sealFrameAt,
} from './frame.js';

function frameOf(layout: typeof SWIFT_FRAME, payload: number[] | Uint8Array, sequence = 1) {
  const f = new Uint8Array(layout.headerSize + payload.length);
  f.set(payload, layout.headerSize);
  return sealFrame(layout, f, { messageType: 1, flags: 0x0102, sequence, timestamp: 0x0102030405 });
}

describe('fixed frame header', () => {
  it('writes the SWFT header byte for byte (28 bytes)', () => {
    const f = frameOf(
      SWIFT_FRAME,
      [...'123456789'].map((c) => c.charCodeAt(0)),
      7,
    );
    expect(f.length).toBe(28 + 9);
    expect(hex(f.subarray(0, 28))).toBe(
      '54465753' + '01' + '01' + '0201' + '09000000' + '07000000' + '0504030201000000' + '2639f4cb',
    );
  });

  it('writes the RUST header with 4 zero padding bytes (32 bytes)', () => {
    const f = frameOf(RUST_FRAME, [], 0);
    expect(hex(f)).toBe(
      '54535552' +
        '01' +
        '01' +
        '0201' +
        '00000000' +
        '00000000' +
        '0504030201000000' +
        '00000000' +
        '00000000',
    );
  });

  it('opens what it sealed', () => {
    const f = frameOf(RUST_FRAME, [1, 2, 3], 42);
    const { header, payload } = openFrame(RUST_FRAME, f);
    expect(header).toEqual({
      version: 1,
      messageType: 1,
      flags: 0x0102,
      payloadSize: 3,
      sequence: 42,
      timestamp: 0x0102030405,
      checksum: header.checksum,
    });
    expect([...payload]).toEqual([1, 2, 3]);
  });

  it.each<[string, (f: Uint8Array) => Uint8Array, TmeshErrorCode]>([
    ['truncated header', (f) => f.subarray(0, 20), 'E_FRAME_TRUNCATED'],
    ['truncated payload', (f) => f.subarray(0, f.length - 1), 'E_FRAME_TRUNCATED'],
    [
      'wrong magic',
      (f) => {
        f[0] = 0;
        return f;
      },
      'E_BAD_MAGIC',
    ],
    [
      'other wire magic',
      (f) => {
        f.set([0x54, 0x53, 0x55, 0x52]);
        return f;
      },
      'E_BAD_MAGIC',
    ],
    [
      'unknown version',
      (f) => {
        f[4] = 2;
        return f;
      },
      'E_UNSUPPORTED_VERSION',
    ],
    [
      'checksum mismatch',
      (f) => {
        f[f.length - 1]! ^= 1;
        return f;
      },
      'E_CHECKSUM',
    ],
    [
      '4 GiB payload claimed',
      (f) => {
        f.set([0xff, 0xff, 0xff, 0xff], 8);
        return f;
      },
      'E_FRAME_TOO_LARGE',
    ],
    ['trailing bytes', (f) => Uint8Array.from([...f, 0]), 'E_TRAILING_BYTES'],
  ])('%s -> %s', (_name, mutate, code) => {
    expect(codeOf(() => openFrame(SWIFT_FRAME, mutate(frameOf(SWIFT_FRAME, [1, 2, 3]))))).toBe(code);
  });

  it('range-checks header fields on encode', () => {
    const f = new Uint8Array(28);
    expect(codeOf(() => sealFrame(SWIFT_FRAME, f, { messageType: 256 }))).toBe('E_RANGE');
    expect(codeOf(() => sealFrame(SWIFT_FRAME, f, { messageType: 1, flags: 0x10000 }))).toBe('E_RANGE');
    expect(codeOf(() => sealFrame(SWIFT_FRAME, f, { messageType: 1, sequence: -1 }))).toBe('E_RANGE');
    expect(codeOf(() => sealFrame(SWIFT_FRAME, f, { messageType: 1, timestamp: 1.5 }))).toBe('E_RANGE');
  });

  it.each([SWIFT_FRAME, RUST_FRAME])(
    'sealFrameAt seals a frame lying inside a bigger buffer like sealFrame, touching nothing around it ($wire)',
    (layout) => {
      const meta = { messageType: 7, flags: 0x0018, sequence: 0xfffffffe, timestamp: 1_700_000_000_123 };
      for (const size of [0, 1, 72, 127, 128, 1000]) {
        const payload = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff);
        const alone = new Uint8Array(layout.headerSize + size);
        alone.set(payload, layout.headerSize);
        sealFrame(layout, alone, meta);
        for (const at of [0, 3, 64]) {
          // A view that starts inside its ArrayBuffer, as the link's send blocks may.
          const buf = new Uint8Array(11 + at + alone.length + 5).subarray(11).fill(0xee);
          buf.set(payload, at + layout.headerSize);
          expect(sealFrameAt(layout, buf, at, at + alone.length, meta)).toBe(at + alone.length);
          expect(hex(buf.subarray(at, at + alone.length))).toBe(hex(alone));
          expect(buf.subarray(0, at).every((b) => b === 0xee)).toBe(true);
          expect(buf.subarray(at + alone.length).every((b) => b === 0xee)).toBe(true);
          expect(openFrame(layout, buf.subarray(at, at + alone.length)).payload).toEqual(payload);
        }
      }
    },
  );

  it('sealFrameAt refuses a range without room for the header, or outside the buffer', () => {
    const buf = new Uint8Array(100);
    const meta = { messageType: 1 };
    expect(codeOf(() => sealFrameAt(RUST_FRAME, buf, 0, 31, meta))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => sealFrameAt(RUST_FRAME, buf, 80, 101, meta))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => sealFrameAt(RUST_FRAME, buf, -1, 40, meta))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => sealFrameAt(RUST_FRAME, buf, 1.5, 40, meta))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => sealFrameAt(RUST_FRAME, buf, 0, 40, { messageType: 300 }))).toBe('E_RANGE');
    expect(sealFrameAt(RUST_FRAME, buf, 68, 100, meta)).toBe(100);
  });

  it('checks the size limit before the payload arrives', () => {
    const f = frameOf(SWIFT_FRAME, new Uint8Array(100));
    expect(codeOf(() => readFrameHeader(SWIFT_FRAME, f.subarray(0, 28), 0, 64))).toBe('E_FRAME_TOO_LARGE');
  });
});

describe('FixedFrameDecoder', () => {
  const frames = [
    frameOf(SWIFT_FRAME, [1, 2, 3], 1),
    frameOf(SWIFT_FRAME, [], 2),
    frameOf(SWIFT_FRAME, new Uint8Array(70).fill(9), 3),
  ];
  const stream = Uint8Array.from(frames.flatMap((f) => [...f]));

  it('decodes at every split point into two chunks', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FixedFrameDecoder(SWIFT_FRAME);
      const got = [...d.push(stream.slice(0, cut)), ...d.push(stream.slice(cut))];
      expect(
        got.map((g) => g.header.sequence),
        `cut ${cut}`,
      ).toEqual([1, 2, 3]);
      expect(got.map((g) => g.payload.length)).toEqual([3, 0, 70]);
      d.end();
    }
  });

  it('decodes byte at a time and in random chunkings', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 20 }), (sizes) => {
        const d = new FixedFrameDecoder(SWIFT_FRAME);
        const got = [];
        let at = 0;
        for (const s of [...sizes, stream.length]) {
          got.push(...d.push(stream.slice(at, at + s)));
          at += s;
          if (at >= stream.length) break;
        }
        expect(got.map((g) => [g.header.sequence, [...g.payload].reduce((a, b) => a + b, 0)])).toEqual([
          [1, 6],
          [2, 0],
          [3, 630],
        ]);
      }),
      { numRuns: 300 },
    );
    const d = new FixedFrameDecoder(SWIFT_FRAME);
    const got = [];
    for (const byte of stream) got.push(...d.push(Uint8Array.of(byte)));
    expect(got).toHaveLength(3);
  });

  it('returns views into the chunk when a frame lies inside it', () => {
    const d = new FixedFrameDecoder(SWIFT_FRAME);
    const [first] = d.push(stream);
    expect(first!.payload.buffer).toBe(stream.buffer);
  });

  it('rejects an oversized frame from its header alone, then stays failed', () => {
    const d = new FixedFrameDecoder(SWIFT_FRAME, { maxFrameSize: 64 });
    const big = frameOf(SWIFT_FRAME, new Uint8Array(100));
    expect(codeOf(() => d.push(big.subarray(0, 28)))).toBe('E_FRAME_TOO_LARGE');
    expect(codeOf(() => d.push(frames[0]!))).toBe('E_FRAME_TOO_LARGE');
  });

  it('reports a stream that ends inside a frame', () => {
    const d = new FixedFrameDecoder(RUST_FRAME);
    d.push(frameOf(RUST_FRAME, [1, 2]).subarray(0, 33));
    expect(d.bufferedBytes).toBe(33);
    expect(codeOf(() => d.end())).toBe('E_FRAME_TRUNCATED');
  });

  it('rejects a silly maxFrameSize', () => {
    expect(codeOf(() => new FixedFrameDecoder(SWIFT_FRAME, { maxFrameSize: 3 }))).toBe('E_INVALID_ARGUMENT');
  });
});
