import {
  crc32,
  defineMessage,
  GATHER_MIN_BYTES,
  isTmeshError,
  MessageRegistry,
  sampleMessages,
  t,
} from '@tmesh/core';
import { describe, expect, it } from 'vitest';
import { createUniversalCodec } from './index.js';

// encodeParts (gather write): the parts, concatenated, are byte for byte what encode() writes (which the
// vector tests check against prost), and big bytes fields are the caller's arrays, not copies. Nested
// messages, map entries and union variants around a big field get lengths that count its bytes.

const Inner = t.struct('Inner', { label: t.string(), blob: t.bytes() });
const Choice = t.union('Choice', { none: null, raw: t.bytes(), inner: Inner });
const Multi = defineMessage(
  'gather.Multi',
  40,
  t.struct('Multi', {
    name: t.string(),
    first: t.bytes(),
    list: t.list(t.bytes()),
    maybe: t.optional(t.bytes()),
    inner: Inner,
    nested: t.list(Inner),
    byName: t.map(t.string(), t.bytes()),
    choice: Choice,
    tail: t.u32(),
  }),
);
const { FileChunk } = sampleMessages;
const registry = new MessageRegistry([FileChunk, Multi]);
const codec = createUniversalCodec(registry);
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
/** Byte equality without vitest's slow deep compare of MiB-sized arrays. */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
const filled = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
const opts = { sequence: 7, flags: 0x10, timestamp: 1_700_000_000_000, source: 'node-a' };

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** A Multi value (loosely typed: the cases below build many shapes of it). */
type MultiValue = Record<string, any>;

function multi(overrides: Partial<Record<string, unknown>> = {}): MultiValue {
  return {
    name: 'm',
    first: filled(5, 1),
    list: [],
    maybe: undefined,
    inner: { label: 'i', blob: filled(3, 2) },
    nested: [],
    byName: new Map(),
    choice: { kind: 'none' },
    tail: 77,
    ...overrides,
  };
}

describe('universal encodeParts', () => {
  it('writes a small message as one part equal to encode()', () => {
    const value = { path: 'a', offset: 1n, sequence: 2, last: true, data: filled(100, 1) };
    const parts = codec.encodeParts(FileChunk, value, opts);
    expect(parts).toHaveLength(1);
    expect(same(parts[0]!, codec.encode(FileChunk, value, opts))).toBe(true);
  });

  it('keeps a 1 MiB bytes field out of the encoder: the caller array is a part', () => {
    const data = filled(1 << 20, 3);
    const value = { path: 'big.bin', offset: 0n, sequence: 9, last: false, data };
    const parts = codec.encodeParts(FileChunk, value, opts);
    expect(parts.some((p) => p === data)).toBe(true);
    expect(parts[0]!.length).toBeLessThan(200);
    const whole = concat(parts);
    expect(same(whole, codec.encode(FileChunk, value, opts))).toBe(true);
    const decoded = codec.decode(whole);
    const payload = whole.subarray(whole.length - decoded.header.payloadSize);
    expect(decoded.header.checksum).toBe(crc32(payload));
    expect(same((decoded.value as typeof value).data, data)).toBe(true);
  });

  it('counts referenced bytes in the lengths of nested messages, map entries and union variants', () => {
    const at = filled(GATHER_MIN_BYTES, 5);
    const below = filled(GATHER_MIN_BYTES - 1, 6);
    const big = filled(200_000, 7);
    const cases: [string, MultiValue, number][] = [
      [
        'top-level fields, list items, optional',
        multi({ first: at, list: [big, below, filled(3, 8), big], maybe: at }),
        4,
      ],
      ['a nested message', multi({ inner: { label: 'x', blob: big } }), 1],
      [
        'nested messages in a list, one big, one small, one big',
        multi({
          nested: [
            { label: 'a', blob: at },
            { label: 'b', blob: filled(9, 1) },
            { label: 'c', blob: big },
          ],
        }),
        2,
      ],
      [
        'map values',
        multi({
          byName: new Map([
            ['k', big],
            ['s', filled(2, 1)],
            ['l', at],
          ]),
        }),
        2,
      ],
      ['a union variant holding bytes', multi({ choice: { kind: 'raw', value: big } }), 1],
      [
        'a union variant holding a message holding bytes, after other big fields',
        multi({ first: at, choice: { kind: 'inner', value: { label: 'u', blob: big } } }),
        2,
      ],
      ['below the threshold: one part', multi({ first: below, inner: { label: 'x', blob: below } }), 0],
    ];
    for (const [what, value, refs] of cases) {
      const parts = codec.encodeParts(Multi, value, opts);
      const whole = concat(parts);
      expect(same(whole, codec.encode(Multi, value, opts)), what).toBe(true);
      expect(parts.filter((p) => p === at || p === big).length, what).toBe(refs);
      expect(parts.includes(below), what).toBe(false);
      if (refs === 0) expect(parts, what).toHaveLength(1);
      // Decoded and encoded again, the same bytes (a deep compare of MiB arrays would take seconds).
      const decoded = codec.decode(whole).value as MultiValue;
      expect(decoded.tail, what).toBe(77);
      expect(same(codec.encode(Multi, decoded, opts), whole), what).toBe(true);
    }
  });

  it('is exact where a nested length needs one more varint byte than the bytes in the writer', () => {
    // In the writer the Inner message is a few bytes (its big field left out); its length on the wire
    // (>= 64 KiB) takes 3 varint bytes, so what follows it moves by 2, referenced positions included.
    for (const size of [GATHER_MIN_BYTES, 2 ** 21 - 10, 2 ** 21 + 10]) {
      const blob = filled(size, size & 0xff);
      const after = filled(GATHER_MIN_BYTES + 1, 9);
      const value = multi({ inner: { label: 'l'.repeat(150), blob }, nested: [{ label: '', blob: after }] });
      const parts = codec.encodeParts(Multi, value, opts);
      expect(parts.filter((p) => p === blob || p === after)).toHaveLength(2);
      expect(same(concat(parts), codec.encode(Multi, value, opts))).toBe(true);
    }
  });

  it('leaves the encoder clean after a failed gather encode', () => {
    const first = filled(GATHER_MIN_BYTES, 1);
    const bad = multi({ first, list: [filled(GATHER_MIN_BYTES, 2), 5] });
    expect(
      isTmeshError(
        thrownBy(() => codec.encodeParts(Multi, bad, opts)),
        'E_ENCODE_INVALID_VALUE',
      ),
    ).toBe(true);
    // The next encodes (plain and gather) are unaffected by the refs the failed one had recorded.
    const value = { path: 'a', offset: 1n, sequence: 2, last: true, data: filled(GATHER_MIN_BYTES, 9) };
    expect(
      same(concat(codec.encodeParts(FileChunk, value, opts)), codec.encode(FileChunk, value, opts)),
    ).toBe(true);
    const small = { ...value, data: filled(10, 1) };
    expect(codec.encodeParts(FileChunk, small, opts)).toHaveLength(1);
  });

  it('compresses into one array when the flags ask for it (nothing referenced)', () => {
    const data = new Uint8Array(GATHER_MIN_BYTES * 2).fill(7);
    const value = { path: 'z', offset: 0n, sequence: 1, last: true, data };
    const parts = codec.encodeParts(FileChunk, value, { ...opts, flags: 1 });
    expect(parts).toHaveLength(1);
    expect(parts[0]!.length).toBeLessThan(data.length / 10);
    expect(same((codec.decode(parts[0]!).value as typeof value).data, data)).toBe(true);
  });

  it('reseal recomputes the checksum after the owner modified a referenced array', () => {
    const data = filled(GATHER_MIN_BYTES * 2, 4);
    const value = multi({ inner: { label: 'p', blob: data }, tail: 1 });
    const parts = codec.encodeParts(Multi, value, opts);
    expect(parts.length).toBeGreaterThan(1);
    expect(codec.resealParts(parts)).toBe(false);
    data[1000] = data[1000]! ^ 0xff;
    expect(
      isTmeshError(
        thrownBy(() => codec.decode(concat(parts))),
        'E_CHECKSUM',
      ),
    ).toBe(true);
    expect(codec.resealParts(parts)).toBe(true);
    expect(same(concat(parts), codec.encode(Multi, value, opts))).toBe(true);
    expect(same((codec.decode(concat(parts)).value as MultiValue).inner.blob, data)).toBe(true);
    expect(codec.resealParts(parts)).toBe(false);
    // A frame of one part is the codec's own: nothing to reseal.
    expect(
      codec.resealParts([
        codec.encode(
          FileChunk,
          { ...value, path: 'q', offset: 0n, sequence: 1, last: false, data: filled(4, 1) },
          opts,
        ),
      ]),
    ).toBe(false);
    expect(
      isTmeshError(
        thrownBy(() => codec.resealParts([new Uint8Array([3, 8, 1, 16]), data])),
        'E_INVALID_ARGUMENT',
      ),
    ).toBe(true);
  });

  it('rejects what encode() rejects', () => {
    const value = { path: 'a', offset: 1n, sequence: 2, last: true, data: filled(1, 1) };
    expect(
      isTmeshError(
        thrownBy(() => codec.encodeParts(FileChunk, value, { flags: 0x10000 })),
        'E_RANGE',
      ),
    ).toBe(true);
    expect(
      isTmeshError(
        thrownBy(() => codec.encodeParts(FileChunk, { ...value, data: 5 } as never, opts)),
        'E_ENCODE_INVALID_VALUE',
      ),
    ).toBe(true);
  });
});

describe('universal frames and decoded values: ownership', () => {
  it('hands out frames that later encodes never overwrite', () => {
    const frames: Uint8Array[] = [];
    const copies: Uint8Array[] = [];
    for (let i = 0; i < 3000; i++) {
      const value = {
        path: `p${i}`,
        offset: BigInt(i),
        sequence: i,
        last: i % 2 === 0,
        data: filled(i % 700, i),
      };
      const frame = codec.encode(FileChunk, value, { ...opts, sequence: i });
      frames.push(frame);
      copies.push(frame.slice());
    }
    for (let i = 0; i < frames.length; i++) expect(same(frames[i]!, copies[i]!), `frame ${i}`).toBe(true);
  });

  it('an encode started from inside another (a getter) gets its own buffer, gather or not', () => {
    const big = filled(GATHER_MIN_BYTES, 3);
    const inner = { path: 'inner', offset: 2n, sequence: 2, last: true, data: filled(20, 1) };
    let nested: Uint8Array | undefined;
    let nestedParts: Uint8Array[] | undefined;
    const outer = {
      offset: 1n,
      sequence: 1,
      last: false,
      data: big,
      get path() {
        nested = codec.encode(FileChunk, inner, opts);
        nestedParts = codec.encodeParts(FileChunk, { ...inner, data: big }, opts);
        return 'outer';
      },
    };
    const parts = codec.encodeParts(FileChunk, outer as never, opts);
    expect(parts.includes(big)).toBe(true);
    const decoded = codec.decode(concat(parts)).value as typeof inner;
    expect(decoded.path).toBe('outer');
    expect(same(decoded.data, big)).toBe(true);
    expect(codec.decode(nested!).value).toEqual(inner);
    expect((codec.decode(concat(nestedParts!)).value as typeof inner).path).toBe('inner');
  });

  it('decodes bytes fields as views into the frame, or into the chunk a stream frame arrived in', () => {
    const data = filled(GATHER_MIN_BYTES * 2, 1);
    const value = { path: 'v', offset: 0n, sequence: 1, last: false, data };
    const frame = concat(codec.encodeParts(FileChunk, value, opts));
    const view = (codec.decode(frame).value as typeof value).data;
    expect(view.buffer).toBe(frame.buffer);
    expect(view.byteOffset).toBe(frame.byteOffset + frame.length - data.length);
    frame[frame.length - 1] = frame[frame.length - 1]! ^ 1; // the view shares the frame's memory
    expect(view[view.length - 1]).toBe(frame[frame.length - 1]);
    frame[frame.length - 1] = frame[frame.length - 1]! ^ 1;

    const small = codec.encode(FileChunk, { ...value, data: filled(40, 2) }, opts);
    const chunk = concat([small, frame, small]);
    const decoded = codec.createDecoder().push(chunk);
    expect(decoded).toHaveLength(3);
    for (const m of decoded) expect((m.value as typeof value).data.buffer).toBe(chunk.buffer);
    const copied = codec.createDecoder({ copy: true }).push(chunk);
    for (const m of copied) expect((m.value as typeof value).data.buffer).not.toBe(chunk.buffer);
    expect(same((copied[1]!.value as typeof value).data, data)).toBe(true);

    // A frame cut across chunks is assembled once into a buffer of its own; its fields view that.
    const d = codec.createDecoder();
    expect(d.push(frame.subarray(0, 1000))).toEqual([]);
    expect(d.bufferedBytes).toBe(1000);
    const [m] = d.push(frame.subarray(1000));
    const v = (m!.value as typeof value).data;
    expect(v.buffer).not.toBe(frame.buffer);
    expect(same(v, data)).toBe(true);
    expect(d.bufferedBytes).toBe(0);
    d.end();
  });
});

describe('universal encodeFrameInto', () => {
  const value = { path: 'p', offset: 3n, sequence: 4, last: true, data: filled(64, 1) };

  it('writes exactly the bytes of encode() at the offset, and nothing outside them', () => {
    const cases: [string, Record<string, unknown>, object][] = [
      ['64 B (one-byte lengths)', value, opts],
      [
        'no payload bytes at all',
        { path: '', offset: 0n, sequence: 0, last: false, data: filled(0, 0) },
        opts,
      ],
      ['a payload of 200 bytes (two-byte lengths)', { ...value, data: filled(200, 2) }, opts],
      ['an envelope over 127 bytes around a short payload', value, { ...opts, destination: 'd'.repeat(120) }],
      ['10 KiB', { ...value, path: 'é'.repeat(30), data: filled(10_000, 3) }, { ...opts, sequence: 0 }],
    ];
    for (const [what, v, o] of cases) {
      const expected = codec.encode(FileChunk, v as typeof value, o);
      const buf = Buffer.alloc(expected.length + 40, 0xee);
      const end = codec.encodeFrameInto(FileChunk, v as typeof value, o, buf, 17);
      expect(end, what).toBe(17 + expected.length);
      expect(same(buf.subarray(17, end), expected), what).toBe(true);
      expect(
        buf.subarray(0, 17).every((b) => b === 0xee),
        what,
      ).toBe(true);
      expect(
        buf.subarray(end).every((b) => b === 0xee),
        what,
      ).toBe(true);
    }
  });

  it('returns -need when the frame does not fit, and fits once given that room', () => {
    const big = { ...value, data: filled(5000, 4) };
    const frame = codec.encode(FileChunk, big, opts);
    for (const room of [0, 3, 40, 1000, frame.length - 1]) {
      const buf = Buffer.alloc(8 + room);
      const end = codec.encodeFrameInto(FileChunk, big, opts, buf, 8);
      expect(end, `room ${room}`).toBeLessThan(0);
      expect(-end, `room ${room}`).toBeGreaterThan(room);
    }
    const need = -codec.encodeFrameInto(FileChunk, big, opts, Buffer.alloc(100), 0);
    const fits = Buffer.alloc(need);
    expect(codec.encodeFrameInto(FileChunk, big, opts, fits, 0)).toBe(frame.length);
    expect(same(fits.subarray(0, frame.length), frame)).toBe(true);
    // A gather-sized field: the estimate says so, and encodeParts takes it.
    const huge = { ...value, data: filled(GATHER_MIN_BYTES, 5) };
    expect(-codec.encodeFrameInto(FileChunk, huge, opts, Buffer.alloc(4096), 0)).toBeGreaterThan(
      GATHER_MIN_BYTES,
    );
  });

  it('compresses when the flags ask, rejects bad targets and values, and leaves the writers clean', () => {
    const packable = { ...value, data: new Uint8Array(4000) };
    const buf = Buffer.alloc(8192);
    const end = codec.encodeFrameInto(FileChunk, packable, { ...opts, flags: 1 }, buf, 0);
    expect(end).toBeGreaterThan(0);
    expect(end).toBeLessThan(1000);
    expect(same((codec.decode(buf.subarray(0, end)).value as typeof value).data, packable.data)).toBe(true);
    const bad = (fn: () => unknown, code: string) =>
      expect(isTmeshError(thrownBy(fn), code as never)).toBe(true);
    bad(() => codec.encodeFrameInto(FileChunk, value, opts, new Uint8Array(100), 0), 'E_INVALID_ARGUMENT');
    bad(() => codec.encodeFrameInto(FileChunk, value, opts, buf, 9000), 'E_INVALID_ARGUMENT');
    bad(
      () => codec.encodeFrameInto(FileChunk, { ...value, data: 5 } as never, opts, buf, 0),
      'E_ENCODE_INVALID_VALUE',
    );
    bad(() => codec.encodeFrameInto(FileChunk, value, { sequence: -1 }, buf, 0), 'E_RANGE');
    const end2 = codec.encodeFrameInto(FileChunk, value, opts, buf, 100);
    expect(same(buf.subarray(100, end2), codec.encode(FileChunk, value, opts))).toBe(true);
  });
});

describe('universal stream decoder: reads straight into the frame (target / filled)', () => {
  const data = filled(300_000, 6);
  const value = { path: 'd', offset: 0n, sequence: 1, last: true, data };
  const frame = concat(codec.encodeParts(FileChunk, value, opts));
  const small = codec.encode(FileChunk, { ...value, data: filled(30, 1) }, opts);

  it('completes a frame from reads into the leased rest, then decodes it in place', () => {
    const d = codec.createDecoder();
    expect(d.target(1)).toBeUndefined(); // nothing being assembled
    expect(d.push(concat([small, frame.subarray(0, 5000)]))).toHaveLength(1);
    expect(d.target(frame.length)).toBeUndefined(); // fewer bytes missing than asked for
    let at = 5000;
    let out: ReturnType<typeof d.push> = [];
    while (at < frame.length) {
      const lease = d.target(1)!;
      expect(lease.length).toBe(frame.length - at); // the whole unfilled rest of the frame
      const n = Math.min(70_000, lease.length);
      lease.set(frame.subarray(at, at + n));
      out = d.filled(lease, n);
      at += n;
      if (at < frame.length) expect(out).toEqual([]);
    }
    expect(out).toHaveLength(1);
    const got = (out[0]!.value as typeof value).data;
    expect(same(got, data)).toBe(true);
    expect(d.bufferedBytes).toBe(0);
    expect(d.target(1)).toBeUndefined();
    // A buffer of the caller's own is read as a chunk.
    expect(d.filled(concat([small, small]), small.length * 2)).toHaveLength(2);
    d.end();
  });

  it('moves the frame when a chunk is pushed while a lease is out: a late read changes nothing', () => {
    const d = codec.createDecoder();
    d.push(frame.subarray(0, 1000));
    const lease = d.target(1)!;
    const out = d.push(frame.subarray(1000));
    expect(out).toHaveLength(1);
    lease.fill(0xaa); // the read that was given the lease lands after all
    expect(d.filled(lease, 0)).toEqual([]); // no longer the lease: read as an empty chunk
    expect(same((out[0]!.value as typeof value).data, data)).toBe(true);
  });

  it('checks the frame it completes: a corrupt payload fails with E_CHECKSUM and the decoder stays failed', () => {
    const d = codec.createDecoder();
    d.push(frame.subarray(0, 100));
    const lease = d.target(1)!;
    lease.set(frame.subarray(100));
    lease[lease.length - 1]! ^= 1;
    expect(
      isTmeshError(
        thrownBy(() => d.filled(lease, lease.length)),
        'E_CHECKSUM',
      ),
    ).toBe(true);
    expect(
      isTmeshError(
        thrownBy(() => d.push(small)),
        'E_CHECKSUM',
      ),
    ).toBe(true);
    expect(d.target(1)).toBeUndefined();
  });
});
