import type { Schema, TmeshErrorCode, TypeDesc } from '@tmesh/core';
import { sampleMessages, t } from '@tmesh/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hex, unhex } from '../../../test-support/bytes.js';
import { throwsCode } from '../../../test-support/errors.js';
import { compileRust } from './index.js';
import { arbitraryDesc, arbitraryOf } from './test-support/arbitrary.js';

const S = sampleMessages.schemas;

describe('compileRust: known answers (bincode 1.x as Rust bincode::serialize writes it)', () => {
  const cases: [string, Schema<any>, unknown, string][] = [
    ['bool true', t.bool(), true, '01'],
    ['u8 255', t.u8(), 255, 'ff'],
    ['u16 0x1234', t.u16(), 0x1234, '3412'],
    ['u32 0x01020304', t.u32(), 0x01020304, '04030201'],
    ['u64 max', t.u64(), 0xffffffffffffffffn, 'ffffffffffffffff'],
    ['i8 -2', t.i8(), -2, 'fe'],
    ['i16 -2', t.i16(), -2, 'feff'],
    ['i32 min', t.i32(), -2147483648, '00000080'],
    ['i64 min', t.i64(), -0x8000000000000000n, '0000000000000080'],
    ['f32 1.5', t.f32(), 1.5, '0000c03f'],
    ['f32 NaN', t.f32(), Number.NaN, '0000c07f'],
    ['f64 -2', t.f64(), -2, '00000000000000c0'],
    ['f64 -Infinity', t.f64(), Number.NEGATIVE_INFINITY, '000000000000f0ff'],
    ['string empty', t.string(), '', '0000000000000000'],
    ['string é', t.string(), 'é', '0200000000000000c3a9'],
    ['string 🚀', t.string(), '🚀', '0400000000000000f09f9a80'],
    ['bytes empty', t.bytes(), new Uint8Array(0), '0000000000000000'],
    ['bytes 3', t.bytes(), new Uint8Array([1, 2, 3]), '0300000000000000010203'],
    ['None', t.optional(t.u64()), undefined, '00'],
    ['Some(256)', t.optional(t.u64()), 256n, '010001000000000000'],
    ['Vec<i32>', t.list(t.i32()), [-1, 2], '0200000000000000ffffffff02000000'],
    [
      'map',
      t.map(t.string(), t.u64()),
      new Map([['k', 1n]]),
      '0100000000000000 0100000000000000 6b 0100000000000000',
    ],
    ['enum Symlink', S.Kind, 'Symlink', '02000000'],
    ['union Noop', S.Op, { kind: 'Noop' }, '00000000'],
    ['union Delete', S.Op, { kind: 'Delete', value: { path: 'x' } }, '01000000 0100000000000000 78'],
    [
      'union Rename',
      S.Op,
      { kind: 'Rename', value: { from: '', to: 'b' } },
      '02000000 0000000000000000 0100000000000000 62',
    ],
    ['union Chmod', S.Op, { kind: 'Chmod', value: 0o755 }, '03000000 ed010000'],
    ['struct Inner', S.Inner, { id: 0x01020304, label: 'é' }, '04030201 0200000000000000 c3a9'],
    [
      'FileChunk',
      S.FileChunk,
      { path: 'a', offset: 1n, sequence: 2, last: true, data: new Uint8Array([0xab]) },
      '0100000000000000 61 0100000000000000 02000000 01 0100000000000000 ab',
    ],
  ];
  it.each(cases)('%s', (_name, schema, value, expected) => {
    const codec = compileRust(schema);
    const bytes = codec.encode(value);
    expect(hex(bytes)).toBe(expected.replace(/\s+/g, ''));
    expect(codec.decode(bytes)).toEqual(value);
  });

  it('compiles once per schema', () => {
    expect(compileRust(S.AllTypes)).toBe(compileRust(S.AllTypes));
  });

  it('decodes bytes fields as views unless copy is asked for', () => {
    const codec = compileRust(S.FileChunk);
    const payload = codec.encode({
      path: 'p',
      offset: 0n,
      sequence: 0,
      last: false,
      data: new Uint8Array([1, 2, 3]),
    });
    const view = codec.decode(payload).data;
    expect(view.buffer).toBe(payload.buffer);
    const copied = codec.decode(payload, { copy: true }).data;
    expect(copied.buffer).not.toBe(payload.buffer);
    expect(copied).toEqual(view);
  });

  it('keeps a leading byte-order mark and NUL characters in strings', () => {
    const codec = compileRust(t.string());
    const s = '\uFEFFa\0b';
    expect(hex(codec.encode(s))).toBe('0600000000000000efbbbf610062');
    expect(codec.decode(codec.encode(s))).toBe(s);
  });

  it('handles long and non-ASCII strings and a 1 MiB bytes field', () => {
    const codec = compileRust(S.FileChunk);
    const data = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31 + 7) & 0xff);
    const value = { path: 'ü/'.repeat(500), offset: 5n, sequence: 1, last: true, data };
    const bytes = codec.encode(value);
    expect(bytes.length).toBe(8 + 1500 + 8 + 4 + 1 + 8 + (1 << 20));
    const { data: decoded, ...rest } = codec.decode(bytes);
    expect(rest).toEqual({ path: value.path, offset: 5n, sequence: 1, last: true });
    expect(Buffer.compare(decoded, data)).toBe(0);
  });

  it('returns frames that later encodes do not overwrite', () => {
    const codec = compileRust(t.string());
    const outputs = Array.from({ length: 3000 }, (_, i) => codec.encode(`value ${i}`));
    for (const [i, bytes] of outputs.entries()) expect(codec.decode(bytes)).toBe(`value ${i}`);
  });
});

describe('compileRust: bad input gets its own error code', () => {
  const all = compileRust(S.AllTypes);
  const sample = {
    flag: true,
    u8v: 1,
    u16v: 2,
    u32v: 3,
    u64v: 4n,
    i8v: -1,
    i16v: -2,
    i32v: -3,
    i64v: -4n,
    f32v: 1,
    f64v: 2,
    text: 'text',
    blob: new Uint8Array([9]),
    maybeText: 'm',
    maybeNumber: 5n,
    numbers: [1],
    inner: { id: 1, label: 'l' },
    inners: [],
    counts: new Map([['a', 1n]]),
    kind: 'File',
    op: { kind: 'Noop' },
    ops: [],
  } as const;
  const good = all.encode(sample as any);

  it('truncated payload: E_FRAME_TRUNCATED at every cut', () => {
    for (let cut = 0; cut < good.length; cut++)
      throwsCode(() => all.decode(good.subarray(0, cut)), 'E_FRAME_TRUNCATED');
  });
  it('trailing bytes: E_TRAILING_BYTES', () => {
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    throwsCode(() => all.decode(longer), 'E_TRAILING_BYTES');
  });
  it('bool byte 2: E_INVALID_BOOL', () => {
    const bad = good.slice();
    bad[0] = 2;
    throwsCode(() => all.decode(bad), 'E_INVALID_BOOL');
  });
  it('invalid UTF-8: E_INVALID_UTF8 (short and long strings, overlong and surrogate encodings)', () => {
    const str = compileRust(t.string());
    for (const body of ['ff', 'c0af', 'eda080', `${'61'.repeat(40)}c3`, 'f4908080']) {
      const len = (body.length / 2).toString(16).padStart(2, '0');
      throwsCode(() => str.decode(unhex(`${len}00000000000000${body}`)), 'E_INVALID_UTF8');
    }
  });
  it('Option tag 2: E_INVALID_OPTION_TAG', () => {
    throwsCode(() => compileRust(t.optional(t.u8())).decode(unhex('0207')), 'E_INVALID_OPTION_TAG');
  });
  it('enum and union variant out of range: E_INVALID_ENUM_VARIANT', () => {
    throwsCode(() => compileRust(S.Kind).decode(unhex('03000000')), 'E_INVALID_ENUM_VARIANT');
    throwsCode(() => compileRust(S.Op).decode(unhex('04000000')), 'E_INVALID_ENUM_VARIANT');
    throwsCode(() => compileRust(S.Op).decode(unhex('ffffffff')), 'E_INVALID_ENUM_VARIANT');
  });
  it('a length claiming 2^64-1 or 4 GiB is rejected before allocating: E_FRAME_TRUNCATED', () => {
    for (const codec of [
      compileRust(t.bytes()),
      compileRust(t.string()),
      compileRust(t.list(t.u8())),
      compileRust(t.map(t.u8(), t.u8())),
    ]) {
      throwsCode(() => codec.decode(unhex('ffffffffffffffff')), 'E_FRAME_TRUNCATED');
      throwsCode(() => codec.decode(unhex('0000000001000000')), 'E_FRAME_TRUNCATED');
      throwsCode(() => codec.decode(unhex('ffffffff00000000')), 'E_FRAME_TRUNCATED');
    }
    // A list count is checked against the smallest size of its items: 2 u64s need 16 bytes, not 2.
    throwsCode(
      () => compileRust(t.list(t.u64())).decode(unhex('0200000000000000 0102')),
      'E_FRAME_TRUNCATED',
    );
  });
  it('a huge count of zero-sized items: E_DECODE', () => {
    const empty = t.struct('Empty', {});
    const codec = compileRust(t.list(empty));
    expect(codec.decode(unhex('0300000000000000'))).toEqual([{}, {}, {}]);
    throwsCode(() => codec.decode(unhex('0000000001000000')), 'E_DECODE');
  });
  it('a payload that ends before a required field: E_FRAME_TRUNCATED (bincode has no field tags)', () => {
    throwsCode(() => compileRust(S.Inner).decode(unhex('01000000')), 'E_FRAME_TRUNCATED');
  });
  it('decode of a non-Uint8Array: E_INVALID_ARGUMENT', () => {
    throwsCode(() => all.decode('nope' as any), 'E_INVALID_ARGUMENT');
  });

  const encodeCases: [string, Schema<any>, unknown, TmeshErrorCode][] = [
    ['u8 256', t.u8(), 256, 'E_RANGE'],
    ['u8 -1', t.u8(), -1, 'E_RANGE'],
    ['u16 65536', t.u16(), 65536, 'E_RANGE'],
    ['u32 2^32', t.u32(), 2 ** 32, 'E_RANGE'],
    ['i8 128', t.i8(), 128, 'E_RANGE'],
    ['i16 -32769', t.i16(), -32769, 'E_RANGE'],
    ['i32 2^31', t.i32(), 2 ** 31, 'E_RANGE'],
    ['u64 2^64', t.u64(), 2n ** 64n, 'E_RANGE'],
    ['u64 -1', t.u64(), -1n, 'E_RANGE'],
    ['i64 2^63', t.i64(), 2n ** 63n, 'E_RANGE'],
    ['u8 1.5', t.u8(), 1.5, 'E_ENCODE_INVALID_VALUE'],
    ['u32 "1"', t.u32(), '1', 'E_ENCODE_INVALID_VALUE'],
    ['u64 number', t.u64(), 1, 'E_ENCODE_INVALID_VALUE'],
    ['bool 1', t.bool(), 1, 'E_ENCODE_INVALID_VALUE'],
    ['f64 string', t.f64(), '1', 'E_ENCODE_INVALID_VALUE'],
    ['string number', t.string(), 1, 'E_ENCODE_INVALID_VALUE'],
    ['string lone surrogate', t.string(), 'a\uD800b', 'E_ENCODE_INVALID_VALUE'],
    ['bytes array', t.bytes(), [1, 2], 'E_ENCODE_INVALID_VALUE'],
    ['list object', t.list(t.u8()), { length: 1 }, 'E_ENCODE_INVALID_VALUE'],
    ['map object', t.map(t.string(), t.u8()), { a: 1 }, 'E_ENCODE_INVALID_VALUE'],
    ['enum unknown', S.Kind, 'Socket', 'E_ENCODE_INVALID_VALUE'],
    ['union unknown', S.Op, { kind: 'Move' }, 'E_ENCODE_INVALID_VALUE'],
    ['union not object', S.Op, 'Noop', 'E_ENCODE_INVALID_VALUE'],
    ['struct null', S.Inner, null, 'E_ENCODE_INVALID_VALUE'],
    ['struct missing field', S.Inner, { id: 1 }, 'E_ENCODE_INVALID_VALUE'],
    ['nested out of range', S.Inner, { id: -1, label: '' }, 'E_RANGE'],
  ];
  it.each(encodeCases)('encode %s: %s', (_name, schema, value, code) => {
    throwsCode(() => compileRust(schema).encode(value), code);
  });

  it('a failed encode leaves the encoder usable', () => {
    const codec = compileRust(S.Inner);
    throwsCode(() => codec.encode({ id: 1, label: 5 } as any), 'E_ENCODE_INVALID_VALUE');
    expect(hex(codec.encode({ id: 1, label: 'x' }))).toBe('01000000010000000000000078');
  });
});

describe('compileRust: fast-check round trips driven from the schema', () => {
  for (const name of ['AllTypes', 'FileChunk', 'Metrics', 'Op'] as const) {
    it(`${name}`, () => {
      const schema = S[name] as Schema<unknown>;
      const codec = compileRust(schema);
      fc.assert(
        fc.property(arbitraryOf(schema.desc), (value) => {
          expect(codec.decode(codec.encode(value))).toEqual(value);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('random schemas: encode then decode gives the value back, and any cut is E_FRAME_TRUNCATED', () => {
    fc.assert(
      fc.property(
        arbitraryDesc().chain((desc: TypeDesc) => fc.tuple(fc.constant(desc), arbitraryOf(desc), fc.nat())),
        ([desc, value, cutSeed]) => {
          const codec = compileRust({ desc } as Schema<unknown>);
          const bytes = codec.encode(value);
          expect(codec.decode(bytes)).toEqual(value);
          if (bytes.length > 0)
            throwsCode(() => codec.decode(bytes.subarray(0, cutSeed % bytes.length)), 'E_FRAME_TRUNCATED');
        },
      ),
      { numRuns: 300 },
    );
  });
});
