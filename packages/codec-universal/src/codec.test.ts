import * as zlib from 'node:zlib';
import {
  defineMessage,
  FRAME_FLAGS,
  MessageRegistry,
  type MessageType,
  sampleMessages,
  type TmeshErrorCode,
  t,
} from '@tmesh/core';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../../test-support/errors.js';
import { createUniversalCodec } from './codec.js';
import { ENVELOPE_PROTO } from './envelope-proto.js';
import { arbitraryOf, delimited, hex, type RawField, rawMessage, unhex } from './testing/arbitrary.js';

const { FileChunk, AllTypes, Metrics } = sampleMessages;
const registry = new MessageRegistry([FileChunk, AllTypes, Metrics]);
const codec = createUniversalCodec(registry);
const Envelope = protobuf.parse(ENVELOPE_PROTO, { keepCase: true }).root.lookupType('tmesh.Envelope');

const chunk = { path: 'a.txt', offset: 5n, sequence: 1, last: true, data: new Uint8Array([1, 2, 3, 4]) };
const chunkOptions = { sequence: 9, timestamp: 1_700_000_000_000, source: 'n1', flags: FRAME_FLAGS.REQUEST };
// docs/PROTOCOL.md section 5 walks through these bytes. The CRC was checked with Python's zlib.crc32.
const CHUNK_FRAME = [
  '3e', // envelope length 62
  '08 01', // 1 version = 1
  '10 01', // 2 message_type = 1
  '18 10', // 3 flags = 0x10 (REQUEST)
  '20 09', // 4 sequence = 9
  '28 80d095ffbc31', // 5 timestamp = 1700000000000
  '32 02 6e31', // 6 source = "n1"
  '42 0f 746d6573682e46696c654368756e6b', // 8 type_name = "tmesh.FileChunk"
  '55 8bffc16a', // 10 checksum = 0x6ac1ff8b, fixed32 little-endian
  '5a 13', // 11 payload, 19 bytes:
  '0a 05 612e747874 10 05 18 01 20 01 2a 04 01020304', // FileChunk { "a.txt", 5, 1, true, [1,2,3,4] }
].join('');

/** An envelope built field by field (to make frames our encoder never writes). */
function envelopeOf(fields: readonly RawField[]): Uint8Array {
  return delimited(rawMessage(fields));
}

function goodFields(payload: Uint8Array, extra: RawField[] = []): RawField[] {
  return [
    [1, 0, 1],
    [2, 0, 1],
    [8, 2, 'tmesh.FileChunk'],
    [10, 5, zlib.crc32(payload)],
    [11, 2, payload],
    ...extra,
  ];
}

const chunkPayload = unhex('0a 05 612e747874 10 05 18 01 20 01 2a 04 01020304');

describe('createUniversalCodec: the frame', () => {
  it('writes the documented bytes', () => {
    expect(hex(codec.encode(FileChunk, chunk, chunkOptions))).toBe(CHUNK_FRAME.replace(/\s+/g, ''));
  });

  it('reads them back with every header field', () => {
    const m = codec.decode(unhex(CHUNK_FRAME));
    expect(m.type).toBe(FileChunk);
    expect(m.value).toEqual(chunk);
    expect(m.header).toEqual({
      version: 1,
      messageType: 1,
      flags: 0x10,
      payloadSize: 19,
      sequence: 9,
      timestamp: 1_700_000_000_000,
      checksum: 0x6ac1ff8b,
    });
    expect(m.source).toBe('n1');
    expect(m.destination).toBeUndefined();
  });

  it('is a real protobuf Envelope: protobufjs reads ours and we read protobufjs-written ones', () => {
    const frame = codec.encode(FileChunk, chunk, { ...chunkOptions, destination: 'ü-node' });
    const env = Envelope.toObject(Envelope.decodeDelimited(frame), { longs: String }) as Record<
      string,
      unknown
    >;
    expect(env).toMatchObject({
      version: 1,
      message_type: 1,
      flags: 0x10,
      sequence: 9,
      timestamp: '1700000000000',
      source: 'n1',
      destination: 'ü-node',
      type_name: 'tmesh.FileChunk',
      checksum: 0x6ac1ff8b,
    });
    expect(Uint8Array.from(env.payload as Uint8Array)).toEqual(chunkPayload);
    const theirs = Envelope.encodeDelimited(
      Envelope.fromObject({ ...env, timestamp: '1700000000000' }),
    ).finish();
    expect(hex(theirs)).toBe(hex(frame));
    expect(codec.decode(theirs).value).toEqual(chunk);
  });

  it('reads envelope fields in any order and skips unknown ones', () => {
    const frame = envelopeOf([
      [11, 2, chunkPayload],
      [42, 2, 'future'],
      [10, 5, zlib.crc32(chunkPayload)],
      [43, 0, 7n],
      [44, 1, 1n],
      [45, 5, 1],
      [8, 2, 'tmesh.FileChunk'],
      [4, 0, 3],
      [1, 0, 1],
    ]);
    const m = codec.decode(frame);
    expect(m.value).toEqual(chunk);
    expect(m.header.sequence).toBe(3);
  });

  it('needs no checksum and no type name (the id alone names the type)', () => {
    const frame = envelopeOf([
      [1, 0, 1],
      [2, 0, 1],
      [11, 2, chunkPayload],
    ]);
    const m = codec.decode(frame);
    expect(m.value).toEqual(chunk);
    expect(m.header.checksum).toBe(0);
  });

  it('round-trips every sample message with any header (fast-check), through decode and a stream', () => {
    const header = fc.record({
      sequence: fc.bigInt({ min: 0n, max: 0xffffffffn }).map(Number),
      flags: fc.integer({ min: 0, max: 0xffff }).map((f) => f & ~FRAME_FLAGS.COMPRESSION_MASK),
      timestamp: fc.maxSafeNat(),
      source: fc.option(
        fc
          .string({ unit: 'binary', maxLength: 8 })
          .filter((s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()),
        { nil: undefined },
      ),
      destination: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
    });
    for (const type of [AllTypes, FileChunk, Metrics] as MessageType<any>[]) {
      fc.assert(
        fc.property(arbitraryOf(type.schema.desc), header, (value, options) => {
          const frame = codec.encode(type, value as never, options);
          const m = codec.decode(frame);
          expect(m.value).toEqual(value);
          expect(m.header).toMatchObject({
            sequence: options.sequence,
            flags: options.flags,
            timestamp: options.timestamp,
          });
          expect(m.source).toBe(options.source || undefined);
          expect(m.destination).toBe(options.destination || undefined);
          const d = codec.createDecoder();
          const out = d.push(frame);
          expect(out.length).toBe(1);
          expect(out[0]!.value).toEqual(value);
        }),
        { numRuns: 150 },
      );
    }
  });

  it('compresses with deflate when the flags ask for it', () => {
    const big = { ...chunk, data: new Uint8Array(100_000).fill(7) };
    const frame = codec.encode(FileChunk, big, { flags: FRAME_FLAGS.COMPRESSION_DEFLATE, timestamp: 1 });
    expect(frame.length).toBeLessThan(1000);
    const m = codec.decode(frame);
    expect(m.value).toEqual(big);
    expect(m.header.flags).toBe(1);
    expect(m.header.payloadSize).toBeLessThan(1000); // the size as sent, compressed
    expect(codeOf(() => codec.encode(FileChunk, chunk, { flags: FRAME_FLAGS.COMPRESSION_ZSTD }))).toBe(
      'E_COMPRESSION',
    );
  });

  it('returns frames of their own, small and big (a big one takes over the writer buffer)', () => {
    const small = codec.encode(FileChunk, chunk, chunkOptions);
    const bigValue = { ...chunk, data: new Uint8Array(200_000).fill(3) };
    const big = codec.encode(FileChunk, bigValue, chunkOptions);
    const big2 = codec.encode(
      FileChunk,
      { ...bigValue, data: new Uint8Array(200_000).fill(4) },
      chunkOptions,
    );
    codec.encode(FileChunk, { ...chunk, path: 'other' }, chunkOptions);
    expect(hex(small)).toBe(CHUNK_FRAME.replace(/\s+/g, ''));
    expect(codec.decode(big).value).toEqual(bigValue);
    expect(big.buffer).not.toBe(big2.buffer);
  });

  it('makes bytes fields views into the frame unless copy is asked for', () => {
    const frame = codec.encode(FileChunk, chunk, chunkOptions);
    const view = codec.decode(frame).value as typeof chunk;
    expect(view.data.buffer).toBe(frame.buffer);
    const copied = codec.decode(frame, { copy: true }).value as typeof chunk;
    expect(copied.data.buffer).not.toBe(frame.buffer);
  });
});

describe('createUniversalCodec: bad frames, each with its own code', () => {
  const good = unhex(CHUNK_FRAME);
  const withEnvelopeByte = (offset: number, value: number) => {
    const copy = good.slice();
    copy[offset] = value;
    return copy;
  };
  const cases: [string, () => unknown, TmeshErrorCode][] = [
    ['empty input', () => codec.decode(new Uint8Array(0)), 'E_FRAME_TRUNCATED'],
    ['frame cut short', () => codec.decode(good.subarray(0, good.length - 1)), 'E_FRAME_TRUNCATED'],
    ['prefix cut inside its varint', () => codec.decode(unhex('ff')), 'E_FRAME_TRUNCATED'],
    ['a prefix claiming 4 GiB', () => codec.decode(unhex('8080808010')), 'E_FRAME_TOO_LARGE'],
    ['a prefix claiming 2^63', () => codec.decode(unhex('80808080808080808001')), 'E_FRAME_TOO_LARGE'],
    ['a prefix varint of 11 bytes', () => codec.decode(unhex('ffffffffffffffffffff01')), 'E_VARINT_OVERFLOW'],
    ['bytes after the envelope', () => codec.decode(Uint8Array.from([...good, 0])), 'E_TRAILING_BYTES'],
    ['version 2', () => codec.decode(withEnvelopeByte(2, 2)), 'E_UNSUPPORTED_VERSION'],
    [
      'no version',
      () => codec.decode(envelopeOf(goodFields(chunkPayload).slice(1))),
      'E_UNSUPPORTED_VERSION',
    ],
    [
      'checksum mismatch (payload byte flipped)',
      () => codec.decode(withEnvelopeByte(good.length - 1, 5)),
      'E_CHECKSUM',
    ],
    ['checksum mismatch (checksum byte flipped)', () => codec.decode(withEnvelopeByte(45, 0)), 'E_CHECKSUM'],
    [
      'unknown type name',
      () =>
        codec.decode(
          envelopeOf([
            [1, 0, 1],
            [8, 2, 'tmesh.Nope'],
            [11, 2, chunkPayload],
          ]),
        ),
      'E_UNKNOWN_MESSAGE_TYPE',
    ],
    [
      'unknown type id without a name',
      () =>
        codec.decode(
          envelopeOf([
            [1, 0, 1],
            [2, 0, 99],
            [11, 2, chunkPayload],
          ]),
        ),
      'E_UNKNOWN_MESSAGE_TYPE',
    ],
    [
      'type id disagreeing with the name',
      () =>
        codec.decode(
          envelopeOf([
            [1, 0, 1],
            [2, 0, 3],
            [8, 2, 'tmesh.FileChunk'],
          ]),
        ),
      'E_UNKNOWN_MESSAGE_TYPE',
    ],
    ['envelope field of the wrong wire type', () => codec.decode(envelopeOf([[1, 2, 'x']])), 'E_DECODE'],
    ['envelope field number 0', () => codec.decode(delimited(unhex('00 00'))), 'E_DECODE'],
    ['envelope group wire type', () => codec.decode(delimited(unhex('0b 0c'))), 'E_DECODE'],
    [
      'envelope string running past the end',
      () => codec.decode(delimited(unhex('32 05 6e'))),
      'E_FRAME_TRUNCATED',
    ],
    ['envelope fixed32 cut short', () => codec.decode(delimited(unhex('55 0102'))), 'E_FRAME_TRUNCATED'],
    [
      'envelope field varint of 11 bytes',
      () => codec.decode(delimited(unhex('20 ffffffffffffffffffff01'))),
      'E_VARINT_OVERFLOW',
    ],
    [
      'source not UTF-8',
      () => codec.decode(envelopeOf(goodFields(chunkPayload, [[6, 2, unhex('c328')]]))),
      'E_INVALID_UTF8',
    ],
    [
      'timestamp past 2^53',
      () => codec.decode(envelopeOf(goodFields(chunkPayload, [[5, 0, 2n ** 60n]]))),
      'E_RANGE',
    ],
    [
      'compression without the flag bits',
      () => codec.decode(envelopeOf(goodFields(chunkPayload, [[9, 0, 1]]))),
      'E_DECODE',
    ],
    [
      'unknown compression',
      () =>
        codec.decode(
          envelopeOf(
            goodFields(chunkPayload, [
              [3, 0, 5],
              [9, 0, 5],
            ]),
          ),
        ),
      'E_COMPRESSION',
    ],
    [
      'deflate that is not deflate',
      () =>
        codec.decode(
          envelopeOf(
            goodFields(chunkPayload, [
              [3, 0, 1],
              [9, 0, 1],
            ]),
          ),
        ),
      'E_COMPRESSION',
    ],
    ['payload: bool 2', () => codec.decode(envelopeOf(goodFields(unhex('20 02')))), 'E_INVALID_BOOL'],
    [
      'payload: invalid UTF-8',
      () => codec.decode(envelopeOf(goodFields(unhex('0a 01 ff')))),
      'E_INVALID_UTF8',
    ],
    [
      'payload: varint overflow',
      () => codec.decode(envelopeOf(goodFields(unhex('10 ffffffffffffffffffff01')))),
      'E_VARINT_OVERFLOW',
    ],
    [
      'payload: truncated field',
      () => codec.decode(envelopeOf(goodFields(unhex('2a 09 01')))),
      'E_FRAME_TRUNCATED',
    ],
    [
      'payload: missing required field',
      () =>
        codec.decode(
          envelopeOf([
            [1, 0, 1],
            [8, 2, 'tmesh.AllTypes'],
            [11, 2, unhex('08 01')],
          ]),
        ),
      'E_MISSING_FIELD',
    ],
    [
      'payload: enum variant out of range',
      () =>
        codec.decode(
          envelopeOf([
            [1, 0, 1],
            [8, 2, 'tmesh.AllTypes'],
            [11, 2, unhex('8a01 00 aa01 02 0a00 a001 07')],
          ]),
        ),
      'E_INVALID_ENUM_VARIANT',
    ],
    ['not bytes', () => codec.decode([1, 2] as never), 'E_INVALID_ARGUMENT'],
  ];
  it.each(cases)('%s', (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });

  it('checks the limit on the prefix alone: a 4 GiB claim fails before its bytes arrive', () => {
    const d = codec.createDecoder();
    expect(codeOf(() => d.push(unhex('8080808010')))).toBe('E_FRAME_TOO_LARGE');
    expect(d.bufferedBytes).toBe(0);
    const split = codec.createDecoder();
    expect(split.push(unhex('8080'))).toEqual([]);
    expect(codeOf(() => split.push(unhex('808010')))).toBe('E_FRAME_TOO_LARGE');
    expect(codeOf(() => codec.createDecoder().push(unhex('ffffffffffffffffffff01')))).toBe(
      'E_VARINT_OVERFLOW',
    );
  });

  it('honours a configured maximum frame size', () => {
    const small = createUniversalCodec(registry, { maxFrameSize: 32 });
    expect(codeOf(() => small.decode(unhex(CHUNK_FRAME)))).toBe('E_FRAME_TOO_LARGE');
    expect(codeOf(() => codec.createDecoder({ maxFrameSize: 62 }).push(unhex(CHUNK_FRAME)))).toBe(
      'E_FRAME_TOO_LARGE',
    );
    expect(codec.createDecoder({ maxFrameSize: 63 }).push(unhex(CHUNK_FRAME)).length).toBe(1);
    expect(codeOf(() => codec.createDecoder({ maxFrameSize: -1 }))).toBe('E_INVALID_ARGUMENT');
    // A deflate payload inflating past the limit is refused while inflating.
    const bomb = codec.encode(
      FileChunk,
      { ...chunk, data: new Uint8Array(1 << 20) },
      { flags: FRAME_FLAGS.COMPRESSION_DEFLATE },
    );
    expect(codeOf(() => createUniversalCodec(registry, { maxFrameSize: 64 * 1024 }).decode(bomb))).toBe(
      'E_COMPRESSION',
    );
  });

  it('refuses bad header options and unregistered types when encoding', () => {
    expect(codeOf(() => codec.encode(FileChunk, chunk, { sequence: -1 }))).toBe('E_RANGE');
    expect(codeOf(() => codec.encode(FileChunk, chunk, { sequence: 2 ** 32 }))).toBe('E_RANGE');
    expect(codeOf(() => codec.encode(FileChunk, chunk, { flags: 0x10000 }))).toBe('E_RANGE');
    expect(codeOf(() => codec.encode(FileChunk, chunk, { timestamp: -1 }))).toBe('E_RANGE');
    expect(codeOf(() => codec.encode(FileChunk, chunk, { source: 'a\udc00' }))).toBe('E_INVALID_ARGUMENT');
    const Other = defineMessage('tmesh.Other', 9, t.struct('Other', { x: t.u8() }));
    expect(codeOf(() => codec.encode(Other, { x: 1 }))).toBe('E_UNKNOWN_MESSAGE_TYPE');
    expect(codeOf(() => codec.encode(FileChunk, { ...chunk, offset: 5 } as never))).toBe(
      'E_ENCODE_INVALID_VALUE',
    );
  });
});

describe('createDecoder: a byte stream cut anywhere', () => {
  const values = [
    chunk,
    { ...chunk, path: 'ü/ß', data: new Uint8Array(300).map((_, i) => i) },
    { ...chunk, data: new Uint8Array(0), last: false },
  ];
  const frames = values.map((v, i) => codec.encode(FileChunk, v, { sequence: i + 1, timestamp: 10 }));
  const stream = Buffer.concat(frames);

  it('decodes many frames pushed in one chunk', () => {
    const d = codec.createDecoder();
    const out = d.push(stream);
    expect(out.map((m) => m.value)).toEqual(values);
    expect(out.map((m) => m.header.sequence)).toEqual([1, 2, 3]);
    expect(d.bufferedBytes).toBe(0);
    d.end();
  });

  it('decodes the same at every split point', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = codec.createDecoder();
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(out.map((m) => m.value)).toEqual(values);
      d.end();
    }
  });

  it('decodes the same at every pair of split points of the first frames', () => {
    const head = stream.subarray(0, frames[0]!.length + 40);
    for (let a = 0; a <= head.length; a++) {
      for (let b = a; b <= head.length; b++) {
        const d = codec.createDecoder();
        const out = [
          ...d.push(head.subarray(0, a)),
          ...d.push(head.subarray(a, b)),
          ...d.push(head.subarray(b)),
          ...d.push(stream.subarray(head.length)),
        ];
        expect(out.length).toBe(3);
      }
    }
  });

  it('decodes any messages cut at any points to the same values (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryOf(AllTypes.schema.desc), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (list, cuts) => {
          const bytes = Buffer.concat(list.map((v) => codec.encode(AllTypes, v as never, { timestamp: 1 })));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const d = codec.createDecoder();
          const out = [];
          let from = 0;
          for (const p of [...points, bytes.length]) {
            out.push(...d.push(bytes.subarray(from, p)));
            from = p;
          }
          d.end();
          expect(out.map((m) => m.value)).toEqual(list);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('decodes one byte at a time, copying or not', () => {
    for (const copy of [false, true]) {
      const d = codec.createDecoder({ copy });
      const out = [];
      for (const byte of stream) out.push(...d.push(Uint8Array.of(byte)));
      expect(out.map((m) => m.value)).toEqual(values);
      d.end();
    }
  });

  it('returns payload views of the pushed chunk when a frame lies inside it', () => {
    const d = codec.createDecoder();
    const [first] = d.push(frames[1]!);
    expect((first!.value as typeof chunk).data.buffer).toBe(frames[1]!.buffer);
    const c = codec.createDecoder({ copy: true });
    const [second] = c.push(frames[1]!);
    expect((second!.value as typeof chunk).data.buffer).not.toBe(frames[1]!.buffer);
  });

  it('reports a stream ending inside a frame, and stays failed after an error', () => {
    const d = codec.createDecoder();
    expect(d.push(stream.subarray(0, 5))).toEqual([]);
    expect(d.bufferedBytes).toBe(5);
    expect(codeOf(() => d.end())).toBe('E_FRAME_TRUNCATED');
    const bad = codec.createDecoder();
    const corrupt = Uint8Array.from(stream);
    corrupt[frames[0]!.length - 1]! ^= 1;
    expect(codeOf(() => bad.push(corrupt))).toBe('E_CHECKSUM');
    expect(codeOf(() => bad.push(frames[0]!))).toBe('E_CHECKSUM');
  });
});

describe('envelope checksum', () => {
  it('is the zlib CRC-32 of the payload as sent, for every short length and random contents', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (data) => {
        const value = { path: '', offset: 0n, sequence: 0, last: false, data };
        const frame = codec.encode(FileChunk, value, { timestamp: 0 });
        const decoded = codec.decode(frame);
        const payload = frame.subarray(frame.length - decoded.header.payloadSize);
        expect(decoded.header.checksum).toBe(zlib.crc32(payload));
      }),
      { numRuns: 500 },
    );
  });
});
