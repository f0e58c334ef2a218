import {
  crc32,
  type DecodedMessage,
  defineMessage,
  MessageRegistry,
  sampleMessages,
  type TmeshErrorCode,
  t,
} from '@tmesh/core';
import { describe, expect, it } from 'vitest';
import { hex } from '../../../test-support/bytes.js';
import { codeOf } from '../../../test-support/errors.js';
import { compileSwift, createSwiftCodec } from './index.js';

const registry = new MessageRegistry([
  sampleMessages.FileChunk,
  sampleMessages.AllTypes,
  sampleMessages.Metrics,
]);
const codec = createSwiftCodec(registry);
const { FileChunk } = sampleMessages;

const chunkValue = (i: number, size = 3) => ({
  path: `file-${i}.bin`,
  offset: BigInt(i) * 4096n,
  sequence: i,
  last: i % 2 === 0,
  data: new Uint8Array(size).fill(i & 0xff),
});

/** Rewrite a frame's checksum after tampering with its payload, so the payload decoder sees it. */
function reseal(frame: Uint8Array): Uint8Array {
  const out = frame.slice();
  const view = new DataView(out.buffer);
  view.setUint32(8, out.length - 28, true);
  view.setUint32(24, crc32(out.subarray(28)), true);
  return out;
}

describe('SWFT frame', () => {
  it('known answer: header fields little-endian, CRC-32 of the payload', () => {
    const frame = codec.encode(
      FileChunk,
      { path: 'a', offset: 0n, sequence: 1, last: true, data: Uint8Array.of(1, 2) },
      { sequence: 0x01020304, timestamp: 1_700_000_000_000, flags: 0x0010 },
    );
    const payload = '85a470617468a161a66f666673657400a873657175656e636501a46c617374c3a464617461c4020102';
    expect(payload.length / 2).toBe(41);
    const crc = crc32(Buffer.from(payload, 'hex')).toString(16).padStart(8, '0');
    const crcLe = crc.match(/../g)!.reverse().join('');
    expect(hex(frame)).toBe(
      `54465753 01 01 1000 29000000 04030201 0068e5cf8b010000 ${crcLe}`.replace(/ /g, '') + payload,
    );
    const decoded = codec.decode(frame);
    expect(decoded.type).toBe(FileChunk);
    expect(decoded.header).toEqual({
      version: 1,
      messageType: 1,
      flags: 0x10,
      payloadSize: 41,
      sequence: 0x01020304,
      timestamp: 1_700_000_000_000,
      checksum: Number.parseInt(crc, 16),
    });
    expect(decoded.value).toEqual({
      path: 'a',
      offset: 0n,
      sequence: 1,
      last: true,
      data: Uint8Array.of(1, 2),
    });
  });

  it('timestamp defaults to now, sequence to 0', () => {
    const before = Date.now();
    const { header } = codec.decode(codec.encode(FileChunk, chunkValue(1)));
    expect(header.sequence).toBe(0);
    expect(header.timestamp).toBeGreaterThanOrEqual(before);
    expect(header.timestamp).toBeLessThanOrEqual(Date.now());
  });

  it('compile() is the cached payload codec', () => {
    expect(codec.compile(FileChunk.schema)).toBe(compileSwift(FileChunk.schema));
    expect(codec.wire).toBe('swift');
  });

  it('bytes are views of the frame unless copy is asked for', () => {
    const frame = codec.encode(FileChunk, chunkValue(5, 10));
    const v = codec.decode(frame).value as { data: Uint8Array };
    expect(v.data.buffer).toBe(frame.buffer);
    const c = codec.decode(frame, { copy: true }).value as { data: Uint8Array };
    expect(c.data.buffer).not.toBe(frame.buffer);
    expect(c.data).toEqual(v.data);
  });
});

describe('bad frames: each its own code', () => {
  const good = codec.encode(FileChunk, chunkValue(3, 8), { sequence: 9, timestamp: 1 });
  const withByte = (offset: number, value: number): Uint8Array => {
    const out = good.slice();
    out[offset] = value;
    return out;
  };
  const withU32 = (offset: number, value: number): Uint8Array => {
    const out = good.slice();
    new DataView(out.buffer).setUint32(offset, value, true);
    return out;
  };

  const cases: [string, () => Uint8Array, TmeshErrorCode][] = [
    ['empty', () => new Uint8Array(0), 'E_FRAME_TRUNCATED'],
    ['header cut short', () => good.subarray(0, 27), 'E_FRAME_TRUNCATED'],
    ['payload cut short', () => good.subarray(0, good.length - 1), 'E_FRAME_TRUNCATED'],
    ['wrong magic', () => withByte(0, 0x55), 'E_BAD_MAGIC'],
    ['RUST magic', () => withU32(0, 0x52555354), 'E_BAD_MAGIC'],
    ['version 2', () => withByte(4, 2), 'E_UNSUPPORTED_VERSION'],
    ['checksum mismatch', () => withByte(good.length - 1, good[good.length - 1]! ^ 1), 'E_CHECKSUM'],
    ['checksum field altered', () => withByte(24, good[24]! ^ 0x80), 'E_CHECKSUM'],
    ['header claiming 4 GiB', () => withU32(8, 0xffffffff), 'E_FRAME_TOO_LARGE'],
    ['trailing bytes after the frame', () => Uint8Array.from([...good, 0]), 'E_TRAILING_BYTES'],
    ['unregistered message type', () => withByte(5, 77), 'E_UNKNOWN_MESSAGE_TYPE'],
    ['compressed payload flag', () => withByte(6, 1), 'E_COMPRESSION'],
  ];
  it.each(cases)('%s', (_, make, code) => {
    expect(codeOf(() => codec.decode(make()))).toBe(code);
  });

  it('payload errors behind a valid checksum keep their own codes', () => {
    const Probe = defineMessage('test.Probe', 9, t.struct('Probe', { flag: t.bool(), name: t.string() }));
    const probeCodec = createSwiftCodec(new MessageRegistry([Probe]));
    const frame = probeCodec.encode(Probe, { flag: true, name: 'ok' });
    const payload = frame.slice(28);
    const make = (bytes: number[]): Uint8Array =>
      reseal(Uint8Array.from([...frame.subarray(0, 28), ...bytes]));
    // flag -> 0x02: "bool byte 2".
    const badBool = [...payload];
    badBool[badBool.indexOf(0xc3)] = 0x02;
    expect(codeOf(() => probeCodec.decode(make(badBool)))).toBe('E_INVALID_BOOL');
    expect(codeOf(() => probeCodec.decode(make([...payload, 0xc0])))).toBe('E_TRAILING_BYTES');
    const badUtf8 = [...payload];
    badUtf8[badUtf8.length - 1] = 0xff;
    expect(codeOf(() => probeCodec.decode(make(badUtf8)))).toBe('E_INVALID_UTF8');
    expect(codeOf(() => probeCodec.decode(make([0x81, 0xa4, 0x66, 0x6c, 0x61, 0x67, 0xc3])))).toBe(
      'E_MISSING_FIELD',
    );
  });

  it('maxFrameSize is enforced from the header, before the payload arrives', () => {
    const small = createSwiftCodec(registry, { maxFrameSize: 64 });
    expect(codeOf(() => small.decode(codec.encode(FileChunk, chunkValue(1, 100))))).toBe('E_FRAME_TOO_LARGE');
    const decoder = codec.createDecoder({ maxFrameSize: 64 });
    const big = codec.encode(FileChunk, chunkValue(1, 100));
    expect(codeOf(() => decoder.push(big.subarray(0, 28)))).toBe('E_FRAME_TOO_LARGE');
    // The decoder stays failed: the stream lost its framing.
    expect(codeOf(() => decoder.push(new Uint8Array(1)))).toBe('E_FRAME_TOO_LARGE');
    expect(codeOf(() => createSwiftCodec(registry, { maxFrameSize: 3 }))).toBe('E_INVALID_ARGUMENT');
  });

  it('a header claiming 4 GiB allocates nothing, even when the limit would allow it', () => {
    const lying = good.slice(0, 28);
    new DataView(lying.buffer).setUint32(8, 0xffffffff, true);
    const decoder = codec.createDecoder({ maxFrameSize: Number.MAX_SAFE_INTEGER });
    const before = process.memoryUsage().arrayBuffers;
    expect(decoder.push(lying)).toEqual([]);
    expect(decoder.push(new Uint8Array(1000))).toEqual([]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    expect(decoder.bufferedBytes).toBe(1028);
    expect(codeOf(() => decoder.end())).toBe('E_FRAME_TRUNCATED');
    expect(codeOf(() => codec.decode(lying))).toBe('E_FRAME_TOO_LARGE');
  });

  it('encode checks the type, the value and the header fields', () => {
    const Other = defineMessage('test.Other', 1, t.struct('Other', { x: t.u8() }));
    expect(codeOf(() => codec.encode(Other, { x: 1 }))).toBe('E_UNKNOWN_MESSAGE_TYPE');
    const Missing = defineMessage('test.Missing', 200, t.struct('Missing', { x: t.u8() }));
    expect(codeOf(() => codec.encode(Missing, { x: 1 }))).toBe('E_UNKNOWN_MESSAGE_TYPE');
    expect(codeOf(() => codec.encode(FileChunk, { ...chunkValue(1), sequence: -1 }))).toBe('E_RANGE');
    expect(codeOf(() => codec.encode(FileChunk, chunkValue(1), { sequence: 2 ** 32 }))).toBe('E_RANGE');
    expect(codeOf(() => codec.encode(FileChunk, chunkValue(1), { flags: 1 }))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => codec.encode(FileChunk, chunkValue(1), { flags: 0x10000 }))).toBe('E_RANGE');
  });
});

describe('incremental decoder', () => {
  const values = [chunkValue(1, 0), chunkValue(2, 40), chunkValue(3, 300)];
  const frames = values.map((v, i) => codec.encode(FileChunk, v, { sequence: i + 1, timestamp: 1000 + i }));
  const stream = Uint8Array.from(frames.flatMap((f) => [...f]));

  const check = (got: DecodedMessage[]): void => {
    expect(got.map((m) => m.value)).toEqual(values);
    expect(got.map((m) => m.header.sequence)).toEqual([1, 2, 3]);
    expect(got.every((m) => m.type === FileChunk)).toBe(true);
  };

  it('many frames in one chunk', () => {
    const d = codec.createDecoder();
    check(d.push(stream));
    expect(d.bufferedBytes).toBe(0);
    d.end();
  });

  it('every split point into two chunks', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = codec.createDecoder();
      const got = [...d.push(stream.slice(0, cut)), ...d.push(stream.slice(cut))];
      check(got);
      d.end();
    }
  });

  it('every pair of split points into three chunks (first 2 frames)', () => {
    const two = stream.subarray(0, frames[0]!.length + frames[1]!.length);
    for (let a = 0; a <= two.length; a++) {
      for (let b = a; b <= two.length; b++) {
        const d = codec.createDecoder();
        const got = [...d.push(two.slice(0, a)), ...d.push(two.slice(a, b)), ...d.push(two.slice(b))];
        expect(got.map((m) => m.value)).toEqual(values.slice(0, 2));
      }
    }
  });

  it('one byte at a time', () => {
    const d = codec.createDecoder();
    const got: DecodedMessage[] = [];
    for (let i = 0; i < stream.length; i++) {
      got.push(...d.push(stream.subarray(i, i + 1)));
      expect(d.bufferedBytes).toBeLessThanOrEqual(frames[2]!.length);
    }
    check(got);
    d.end();
  });

  it('copy: true detaches bytes from the pushed chunks', () => {
    const d = codec.createDecoder({ copy: true });
    const chunk = stream.slice();
    const got = d.push(chunk);
    chunk.fill(0);
    check(got);
    const z = codec.createDecoder();
    const view = z.push(stream)[1]!.value as { data: Uint8Array };
    expect(view.data.buffer).toBe(stream.buffer);
  });

  it('end() inside a frame is E_FRAME_TRUNCATED; a bad frame poisons the decoder', () => {
    const d = codec.createDecoder();
    d.push(stream.subarray(0, 10));
    expect(codeOf(() => d.end())).toBe('E_FRAME_TRUNCATED');
    const e = codec.createDecoder();
    const corrupt = stream.slice();
    const at = frames[0]!.length + 40;
    corrupt[at] = corrupt[at]! ^ 0xff;
    expect(codeOf(() => e.push(corrupt))).toBe('E_CHECKSUM');
    expect(codeOf(() => e.push(frames[0]!))).toBe('E_CHECKSUM');
    const f = codec.createDecoder();
    expect(codeOf(() => f.push(reseal(frames[0]!.slice(0, 40))))).toBe('E_FRAME_TRUNCATED');
    expect(codeOf(() => f.end())).toBe('E_FRAME_TRUNCATED');
  });
});
