import type { DecodedMessage } from '@tmesh/core';
import {
  crc32,
  defineMessage,
  FRAME_FLAGS,
  isTmeshError,
  MessageRegistry,
  sampleMessages,
  t,
} from '@tmesh/core';
import { describe, expect, it } from 'vitest';
import { hex } from '../../../test-support/bytes.js';
import { throwsCode } from '../../../test-support/errors.js';
import { createRustCodec } from './index.js';
import { fuzzInput, rng } from './test-support/fuzz-inputs.js';
import { vectorCases } from './vector-cases.js';

const registry = new MessageRegistry([
  sampleMessages.FileChunk,
  sampleMessages.AllTypes,
  sampleMessages.Metrics,
]);
const codec = createRustCodec(registry);

const chunk = {
  path: 'a.txt',
  offset: 4096n,
  sequence: 1,
  last: false,
  data: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
};
/** The worked example of docs/PROTOCOL.md section 4 (also decoded by the real bincode in the interop test). */
const WORKED =
  '54535552 01 01 0000 26000000 07000000 0068e5cf8b010000 7857cbcb 00000000' +
  '0500000000000000 612e747874 0010000000000000 01000000 00 0400000000000000 deadbeef';

function frameOf(value = chunk, sequence = 7): Uint8Array {
  return codec.encode(sampleMessages.FileChunk, value, { sequence, timestamp: 1_700_000_000_000 });
}

/** Recompute size and CRC after editing a frame's payload. */
function reseal(frame: Uint8Array): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, 32);
  view.setUint32(8, frame.length - 32, true);
  view.setUint32(24, crc32(frame.subarray(32)), true);
  return frame;
}

describe('createRustCodec: frames', () => {
  it('writes the documented bytes (known answer)', () => {
    const frame = frameOf();
    expect(hex(frame)).toBe(WORKED.replace(/\s+/g, ''));
    const decoded = codec.decode(frame);
    expect(decoded.type).toBe(sampleMessages.FileChunk);
    expect(decoded.value).toEqual(chunk);
    expect(decoded.header).toEqual({
      version: 1,
      messageType: 1,
      flags: 0,
      payloadSize: 38,
      sequence: 7,
      timestamp: 1_700_000_000_000,
      checksum: 0xcbcb5778,
    });
  });

  it('carries flags, sequence and timestamp', () => {
    const frame = codec.encode(sampleMessages.FileChunk, chunk, {
      sequence: 0xffffffff,
      timestamp: 2 ** 53 - 1,
      flags: FRAME_FLAGS.REQUEST,
    });
    expect(codec.decode(frame).header).toMatchObject({
      sequence: 0xffffffff,
      timestamp: 2 ** 53 - 1,
      flags: FRAME_FLAGS.REQUEST,
    });
  });

  it('encodes every vector case and decodes it back', () => {
    for (const c of vectorCases().filter((v) => v.name !== 'file_chunk_1mib')) {
      const frame = codec.encode(c.type, c.value, {
        sequence: c.sequence,
        timestamp: c.timestamp,
        flags: c.flags,
      });
      const decoded = codec.decode(frame);
      expect(decoded.type).toBe(c.type);
      expect(decoded.value).toEqual(c.value);
    }
  });

  it('decodes bytes as views into the frame, or copies with copy: true', () => {
    const frame = frameOf();
    expect((codec.decode(frame).value as typeof chunk).data.buffer).toBe(frame.buffer);
    expect((codec.decode(frame, { copy: true }).value as typeof chunk).data.buffer).not.toBe(frame.buffer);
  });

  it('decodes frames held in shared memory (SharedArrayBuffer)', () => {
    const c = vectorCases().find((v) => v.name === 'all_types_full')!;
    const frame = codec.encode(c.type, c.value, { sequence: 1 });
    const shared = new Uint8Array(new SharedArrayBuffer(frame.length + 8), 8);
    shared.set(frame);
    expect(codec.decode(shared).value).toEqual(c.value);
  });

  it('an encode started from inside another encode (a getter) gets its own buffer', () => {
    const inner = { ...chunk, data: new Uint8Array([1]) };
    let nested: Uint8Array | undefined;
    const outer = {
      ...chunk,
      get path() {
        nested = frameOf(inner, 2);
        return 'outer';
      },
    };
    const frame = frameOf(outer as typeof chunk, 1);
    expect(codec.decode(frame).value).toEqual({ ...chunk, path: 'outer' });
    expect(codec.decode(nested!).value).toEqual(inner);
  });

  it('compile() gives the payload codec', () => {
    const payload = codec.compile(sampleMessages.schemas.FileChunk).encode(chunk);
    expect(hex(payload)).toBe(hex(frameOf().subarray(32)));
  });
});

describe('createRustCodec: bad frames get their own error code', () => {
  it('truncated frame: E_FRAME_TRUNCATED at every cut', () => {
    const frame = frameOf();
    for (let cut = 0; cut < frame.length; cut++)
      throwsCode(() => codec.decode(frame.subarray(0, cut)), 'E_FRAME_TRUNCATED');
  });
  it('wrong magic: E_BAD_MAGIC', () => {
    const frame = frameOf().slice();
    frame[0] = 0x53; // "SWFT"'s first byte
    throwsCode(() => codec.decode(frame), 'E_BAD_MAGIC');
  });
  it('a SWFT frame: E_BAD_MAGIC', () => {
    const frame = frameOf().slice();
    new DataView(frame.buffer).setUint32(0, 0x53574654, true);
    throwsCode(() => codec.decode(frame), 'E_BAD_MAGIC');
  });
  it('unknown version: E_UNSUPPORTED_VERSION', () => {
    const frame = frameOf().slice();
    frame[4] = 2;
    throwsCode(() => codec.decode(frame), 'E_UNSUPPORTED_VERSION');
  });
  it('checksum mismatch: E_CHECKSUM (header and payload damage)', () => {
    const a = frameOf().slice();
    a[a.length - 1]! ^= 1;
    throwsCode(() => codec.decode(a), 'E_CHECKSUM');
    const b = frameOf().slice();
    b[24]! ^= 0x80;
    throwsCode(() => codec.decode(b), 'E_CHECKSUM');
  });
  it('a header claiming 4 GiB: E_FRAME_TOO_LARGE without allocating', () => {
    const frame = frameOf().slice();
    new DataView(frame.buffer).setUint32(8, 0xffffffff, true);
    const before = process.memoryUsage().arrayBuffers;
    throwsCode(() => codec.decode(frame), 'E_FRAME_TOO_LARGE');
    const decoder = codec.createDecoder();
    throwsCode(() => decoder.push(frame.subarray(0, 32)), 'E_FRAME_TOO_LARGE');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
    // With a limit above 4 GiB the frame is simply too short, still without allocating.
    const big = createRustCodec(registry, { maxFrameSize: 2 ** 33 });
    throwsCode(() => big.decode(frame), 'E_FRAME_TRUNCATED');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });
  it('maxFrameSize is configurable and checked on encode too', () => {
    const small = createRustCodec(registry, { maxFrameSize: 64 });
    throwsCode(() => small.decode(frameOf({ ...chunk, data: new Uint8Array(40) })), 'E_FRAME_TOO_LARGE');
    throwsCode(
      () => small.encode(sampleMessages.FileChunk, { ...chunk, data: new Uint8Array(40) }),
      'E_FRAME_TOO_LARGE',
    );
    throwsCode(() => createRustCodec(registry, { maxFrameSize: 8 }), 'E_INVALID_ARGUMENT');
  });
  it('trailing bytes after the frame: E_TRAILING_BYTES; inside the payload: E_TRAILING_BYTES', () => {
    const frame = frameOf();
    const longer = new Uint8Array(frame.length + 1);
    longer.set(frame);
    throwsCode(() => codec.decode(longer), 'E_TRAILING_BYTES');
    throwsCode(() => codec.decode(reseal(longer)), 'E_TRAILING_BYTES');
  });
  it('payload damage behind a valid CRC: bool 2, bad UTF-8, Option tag 2, variant out of range', () => {
    const bool = frameOf().slice();
    bool[32 + 8 + 5 + 8 + 4] = 2; // FileChunk.last
    throwsCode(() => codec.decode(reseal(bool)), 'E_INVALID_BOOL');
    const utf8 = frameOf().slice();
    utf8[32 + 8] = 0xff; // first byte of FileChunk.path
    throwsCode(() => codec.decode(reseal(utf8)), 'E_INVALID_UTF8');
    const Opt = defineMessage(
      'test.Opt',
      9,
      t.struct('Opt', { x: t.optional(t.u8()), k: sampleMessages.schemas.Kind }),
    );
    const reg = new MessageRegistry([Opt]);
    const c = createRustCodec(reg);
    const tag = c.encode(Opt, { x: 1, k: 'File' }).slice();
    tag[32] = 2;
    throwsCode(() => c.decode(reseal(tag)), 'E_INVALID_OPTION_TAG');
    const variant = c.encode(Opt, { x: undefined, k: 'File' }).slice();
    variant[33] = 3;
    throwsCode(() => c.decode(reseal(variant)), 'E_INVALID_ENUM_VARIANT');
  });
  it('unknown message type: E_UNKNOWN_MESSAGE_TYPE, on decode and encode', () => {
    const frame = frameOf().slice();
    frame[5] = 77;
    throwsCode(() => codec.decode(frame), 'E_UNKNOWN_MESSAGE_TYPE');
    const Other = defineMessage('test.Other', 1, t.struct('Other', { x: t.u8() }));
    throwsCode(() => codec.encode(Other, { x: 1 }), 'E_UNKNOWN_MESSAGE_TYPE');
  });
  it("compressed payloads are the link layer's: E_COMPRESSION on decode, E_INVALID_ARGUMENT on encode", () => {
    const frame = frameOf().slice();
    frame[6] = FRAME_FLAGS.COMPRESSION_DEFLATE;
    throwsCode(() => codec.decode(frame), 'E_COMPRESSION');
    throwsCode(
      () => codec.encode(sampleMessages.FileChunk, chunk, { flags: FRAME_FLAGS.COMPRESSION_ZSTD }),
      'E_INVALID_ARGUMENT',
    );
  });
  it('bad header fields on encode: E_RANGE', () => {
    throwsCode(() => codec.encode(sampleMessages.FileChunk, chunk, { sequence: 2 ** 32 }), 'E_RANGE');
    throwsCode(() => codec.encode(sampleMessages.FileChunk, chunk, { flags: 0x10000 }), 'E_RANGE');
  });
});

describe('createRustCodec: incremental decoder', () => {
  const frames = vectorCases()
    .filter((c) => c.name !== 'file_chunk_1mib')
    .map((c) =>
      codec.encode(c.type, c.value, { sequence: c.sequence, timestamp: c.timestamp, flags: c.flags }),
    );
  const stream = Buffer.concat(frames);
  const expected = vectorCases().filter((c) => c.name !== 'file_chunk_1mib');

  function check(got: DecodedMessage[]): void {
    expect(got.map((m) => m.header.sequence)).toEqual(expected.map((c) => c.sequence));
    for (const [i, m] of got.entries()) expect(m.value).toEqual(expected[i]!.value);
  }

  it('decodes many frames from one chunk', () => {
    const decoder = codec.createDecoder();
    check(decoder.push(stream));
    expect(decoder.bufferedBytes).toBe(0);
    decoder.end();
  });

  it('handles a split at every byte position', () => {
    for (let at = 0; at <= stream.length; at++) {
      const decoder = codec.createDecoder();
      const got = [...decoder.push(stream.subarray(0, at)), ...decoder.push(stream.subarray(at))];
      check(got);
      decoder.end();
    }
  });

  it('handles three-way splits around frame boundaries', () => {
    const b1 = frames[0]!.length;
    for (let a = b1 - 40; a <= b1 + 40; a++) {
      for (let b = a; b <= a + 80 && b <= stream.length; b += 7) {
        const decoder = codec.createDecoder();
        check([
          ...decoder.push(stream.subarray(0, a)),
          ...decoder.push(stream.subarray(a, b)),
          ...decoder.push(stream.subarray(b)),
        ]);
      }
    }
  });

  it('handles one byte at a time', () => {
    const decoder = codec.createDecoder({ copy: true });
    const got: DecodedMessage[] = [];
    for (let i = 0; i < stream.length; i++) {
      got.push(...decoder.push(stream.subarray(i, i + 1)));
      expect(decoder.bufferedBytes).toBeLessThan(400);
    }
    check(got);
    decoder.end();
  });

  it('gives views into the chunk by default and copies with copy: true', () => {
    const one = new Uint8Array(frames[3]!); // file_chunk_small
    const views = codec.createDecoder().push(one);
    expect((views[0]!.value as { data: Uint8Array }).data.buffer).toBe(one.buffer);
    const copies = codec.createDecoder({ copy: true }).push(one);
    expect((copies[0]!.value as { data: Uint8Array }).data.buffer).not.toBe(one.buffer);
  });

  it('end() inside a frame: E_FRAME_TRUNCATED', () => {
    const decoder = codec.createDecoder();
    decoder.push(stream.subarray(0, 40));
    throwsCode(() => decoder.end(), 'E_FRAME_TRUNCATED');
  });

  it('checks maxFrameSize from the header alone, before the payload arrives', () => {
    const decoder = codec.createDecoder({ maxFrameSize: 100 });
    throwsCode(() => decoder.push(frames[0]!.subarray(0, 32)), 'E_FRAME_TOO_LARGE');
    // The decoder stays failed: the stream has lost its framing.
    throwsCode(() => decoder.push(frames[3]!), 'E_FRAME_TOO_LARGE');
  });

  it('a payload error in the stream fails the decoder with its code', () => {
    const bad = reseal(frames[3]!.slice().fill(0xff, 40, 41));
    const decoder = codec.createDecoder();
    throwsCode(() => decoder.push(Buffer.concat([frames[0]!, bad])), 'E_INVALID_UTF8');
    throwsCode(() => decoder.end(), 'E_INVALID_UTF8');
  });

  it('decodes a 1 MiB frame pushed in 64 KiB chunks', () => {
    const big = vectorCases().find((c) => c.name === 'file_chunk_1mib')!;
    const frame = codec.encode(big.type, big.value, { sequence: big.sequence, timestamp: big.timestamp });
    const decoder = codec.createDecoder();
    const got: DecodedMessage[] = [];
    for (let i = 0; i < frame.length; i += 65536) got.push(...decoder.push(frame.subarray(i, i + 65536)));
    expect(got).toHaveLength(1);
    expect(
      Buffer.compare((got[0]!.value as { data: Uint8Array }).data, (big.value as { data: Uint8Array }).data),
    ).toBe(0);
  });
});

describe('createRustCodec: fuzz (random and mutated frames)', () => {
  it('throws only TmeshErrors and never hangs (4000 inputs per decoder)', () => {
    const seeds = vectorCases()
      .filter((c) => c.name !== 'file_chunk_1mib')
      .map((c) =>
        codec.encode(c.type, c.value, { sequence: c.sequence, timestamp: c.timestamp, flags: c.flags }),
      );
    const next = rng(0x5eed);
    const codes = new Map<string, number>();
    const started = Date.now();
    for (let i = 0; i < 4000; i++) {
      const input = fuzzInput(seeds, next);
      for (const run of [() => codec.decode(input), () => codec.createDecoder().push(input)]) {
        try {
          run();
          codes.set('ok', (codes.get('ok') ?? 0) + 1);
        } catch (error) {
          if (!isTmeshError(error))
            throw new Error(`input ${hex(input)} threw a non-TmeshError: ${String(error)}`);
          codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
        }
      }
    }
    expect(Date.now() - started).toBeLessThan(30_000);
    // The mutations reach past the checksum into the payload decoder.
    expect(codes.get('E_CHECKSUM')).toBeGreaterThan(0);
    expect([...codes.keys()].filter((c) => c !== 'E_CHECKSUM' && c.startsWith('E_')).length).toBeGreaterThan(
      4,
    );
  });
});
