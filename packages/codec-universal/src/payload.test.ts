import { loadProtoSchemas, type Schema, sampleMessages, type TmeshErrorCode, t } from '@tmesh/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../../test-support/errors.js';
import { compileUniversal } from './payload.js';
import { toProtoSource } from './proto-source.js';
import { arbitraryOf, hex, rawMessage, unhex } from './testing/arbitrary.js';

const { AllTypes, FileChunk, Inner, Kind, Op, Metrics } = sampleMessages.schemas;

// Schemas that reach what the samples do not: every map key kind, optional of every kind, lists of
// 64-bit ints, bools, floats, bytes, enums and unions, unions holding enums, unions and scalars.
const Leaf = t.struct('Leaf', { n: t.i32() });
const Shape = t.union('Shape', {
  Empty: null,
  Big: t.u64(),
  Neg: t.i64(),
  Leaf,
  Kind,
  Op,
  Text: t.string(),
  Raw: t.bytes(),
});
const Extra = t.struct('Extra', {
  byBool: t.map(t.bool(), t.string()),
  byI64: t.map(t.i64(), t.u64()),
  byU64: t.map(t.u64(), Leaf),
  byI32: t.map(t.i32(), t.bytes()),
  byU8: t.map(t.u8(), Kind),
  byI8: t.map(t.i8(), t.f64()),
  byStr: t.map(t.string(), Shape),
  u64s: t.list(t.u64()),
  i64s: t.list(t.i64()),
  bools: t.list(t.bool()),
  f32s: t.list(t.f32()),
  f64s: t.list(t.f64()),
  u8s: t.list(t.u8()),
  i16s: t.list(t.i16()),
  blobs: t.list(t.bytes()),
  texts: t.list(t.string()),
  kinds: t.list(Kind),
  shapes: t.list(Shape),
  maybeLeaf: t.optional(Leaf),
  maybeKind: t.optional(Kind),
  maybeShape: t.optional(Shape),
  maybeBytes: t.optional(t.bytes()),
  maybeBool: t.optional(t.bool()),
  maybeF32: t.optional(t.f32()),
  maybeI64: t.optional(t.i64()),
  maybeU8: t.optional(t.u8()),
});

describe('compileUniversal: known answers (bytes from the protobuf encoding spec)', () => {
  const cases: [string, () => Uint8Array, string][] = [
    // The protobuf docs' own example: field 1 = 150 is 08 96 01; a string field is tag, length, UTF-8.
    [
      'Inner {150, "testing"}',
      () => compileUniversal(Inner).encode({ id: 150, label: 'testing' }),
      '08 9601 12 07 74657374696e67',
    ],
    ['Inner defaults leave every field out', () => compileUniversal(Inner).encode({ id: 0, label: '' }), ''],
    ['Op Noop: field 1, empty Unit message', () => compileUniversal(Op).encode({ kind: 'Noop' }), '0a 00'],
    [
      'Op Delete: field 2, Delete { path "a" }',
      () => compileUniversal(Op).encode({ kind: 'Delete', value: { path: 'a' } }),
      '12 03 0a0161',
    ],
    [
      'Op Chmod 0: a oneof member is written even when 0',
      () => compileUniversal(Op).encode({ kind: 'Chmod', value: 0 }),
      '20 00',
    ],
    [
      'FileChunk: u64 varint, bool, bytes',
      () =>
        compileUniversal(FileChunk).encode({
          path: 'a',
          offset: 300n,
          sequence: 1,
          last: true,
          data: new Uint8Array([1, 2]),
        }),
      '0a 01 61 10 ac02 18 01 20 01 2a 02 0102',
    ],
    [
      'Metrics: doubles little-endian, map entries as nested messages',
      () =>
        compileUniversal(Metrics).encode({
          node: 'n',
          at: 1n,
          throughput: 1,
          latencyMicros: -2,
          counters: new Map([['k', 2n]]),
        }),
      '0a 01 6e 10 01 19 000000000000f03f 21 00000000000000c0 2a 05 0a016b 1002',
    ],
    [
      'negative int32 is ten bytes; u64 max is ten bytes; packed repeated int32',
      () =>
        compileUniversal(t.struct('N', { a: t.i32(), b: t.u64(), c: t.list(t.i32()) })).encode({
          a: -1,
          b: 0xffffffffffffffffn,
          c: [1, 2],
        }),
      '08 ffffffffffffffffff01 10 ffffffffffffffffff01 1a 02 0102',
    ],
    [
      'optional fields are written even when they hold the default',
      () =>
        compileUniversal(t.struct('O', { a: t.optional(t.u64()), b: t.optional(t.string()) })).encode({
          a: 0n,
          b: '',
        }),
      '08 00 12 00',
    ],
    [
      'enum: the declaration index, 0 left out',
      () => compileUniversal(t.struct('K', { a: Kind, b: Kind })).encode({ a: 'File', b: 'Symlink' }),
      '10 02',
    ],
  ];
  it.each(cases)('%s', (_name, encode, expected) => {
    const bytes = encode();
    expect(hex(bytes)).toBe(expected.replace(/\s+/g, ''));
  });

  it('decodes what it encodes for those cases', () => {
    const c = compileUniversal(FileChunk);
    expect(c.decode(unhex('0a 01 61 10 ac02 18 01 20 01 2a 02 0102'))).toEqual({
      path: 'a',
      offset: 300n,
      sequence: 1,
      last: true,
      data: new Uint8Array([1, 2]),
    });
    expect(compileUniversal(Op).decode(unhex('20 00'))).toEqual({ kind: 'Chmod', value: 0 });
    expect(compileUniversal(Inner).decode(new Uint8Array(0))).toEqual({ id: 0, label: '' });
  });

  it('reads fields in any order, unpacked repeated scalars, and skips unknown fields', () => {
    const N = t.struct('N', { a: t.u32(), c: t.list(t.i32()) });
    const bytes = rawMessage([
      [2, 0, 5],
      [99, 2, 'ignored'],
      [1, 0, 7],
      [2, 0, 6],
      [98, 5, 1],
      [97, 1, 2n],
      [2, 2, new Uint8Array([8])],
    ]);
    expect(compileUniversal(N).decode(bytes)).toEqual({ a: 7, c: [5, 6, 8] });
  });

  it('reads map entries that leave out a default key or value, as prost writes them', () => {
    const M = t.struct('M', { byName: t.map(t.string(), Inner), byId: t.map(t.u32(), t.u64()) });
    // byName: { "": Inner {0, ""} } as an empty entry; byId: { 0: 0n } as an empty entry, { 7: 0n } as key only.
    const bytes = unhex('0a 00 12 00 12 02 0807');
    expect(compileUniversal(M).decode(bytes)).toEqual({
      byName: new Map([['', { id: 0, label: '' }]]),
      byId: new Map([
        [0, 0n],
        [7, 0n],
      ]),
    });
  });

  it('is compiled once per schema', () => {
    expect(compileUniversal(AllTypes)).toBe(compileUniversal(AllTypes));
  });
});

describe('compileUniversal: round trips driven from the schema (fast-check)', () => {
  const schemas = { AllTypes, FileChunk, Metrics, Extra, Shape, Op };
  for (const [name, schema] of Object.entries(schemas)) {
    it(`${name}: decode(encode(v)) equals v`, () => {
      const codec = compileUniversal(schema as typeof AllTypes);
      fc.assert(
        fc.property(arbitraryOf(schema.desc), (value) => {
          const bytes = codec.encode(value as never);
          expect(codec.decode(bytes)).toEqual(value);
          expect(codec.decode(bytes, { copy: true })).toEqual(value);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('keeps -0, NaN and the infinities in floats', () => {
    const F = t.struct('F', { a: t.f32(), b: t.f64(), c: t.list(t.f64()), d: t.optional(t.f32()) });
    const c = compileUniversal(F);
    const v = {
      a: -0,
      b: Number.NaN,
      c: [-0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN],
      d: -0,
    };
    const back = c.decode(c.encode(v));
    expect(Object.is(back.a, -0)).toBe(true);
    expect(Object.is(back.d, -0)).toBe(true);
    expect(back).toEqual(v);
  });
});

describe('compileUniversal: zero copy', () => {
  it('encode returns bytes of its own: a later encode does not change them', () => {
    const c = compileUniversal(Inner);
    const first = c.encode({ id: 1, label: 'first' });
    const before = hex(first);
    c.encode({ id: 2, label: 'second!' });
    compileUniversal(FileChunk).encode({
      path: 'x'.repeat(200),
      offset: 1n,
      sequence: 2,
      last: true,
      data: new Uint8Array(100),
    });
    expect(hex(first)).toBe(before);
  });

  it('bytes fields are views into the input unless copy is asked for', () => {
    const c = compileUniversal(FileChunk);
    const bytes = c.encode({
      path: 'p',
      offset: 0n,
      sequence: 0,
      last: false,
      data: new Uint8Array([9, 8, 7]),
    });
    const view = c.decode(bytes).data;
    expect(view.buffer).toBe(bytes.buffer);
    expect(Object.getPrototypeOf(view)).toBe(Uint8Array.prototype);
    const copied = c.decode(bytes, { copy: true }).data;
    expect(copied.buffer).not.toBe(bytes.buffer);
    bytes[bytes.length - 1] = 0;
    expect(view[2]).toBe(0);
    expect(copied[2]).toBe(7);
  });
});

describe('compileUniversal: bad input, each with its own code', () => {
  const N = t.struct('N', {
    flag: t.bool(),
    small: t.u8(),
    big: t.u64(),
    seq: t.u32(),
    text: t.string(),
    kind: Kind,
  });
  const Outer = t.struct('Outer', { inner: Inner, op: Op });
  const bad: [string, () => unknown, TmeshErrorCode][] = [
    ['invalid UTF-8 (short string)', () => compileUniversal(N).decode(unhex('2a 02 c328')), 'E_INVALID_UTF8'],
    [
      'invalid UTF-8 (long string)',
      () => compileUniversal(N).decode(unhex(`2a 28 ${'61'.repeat(39)}ff`)),
      'E_INVALID_UTF8',
    ],
    [
      'lone surrogate encoded in UTF-8 (CESU)',
      () => compileUniversal(N).decode(unhex('2a 03 eda080')),
      'E_INVALID_UTF8',
    ],
    ['bool holding 2', () => compileUniversal(N).decode(unhex('08 02')), 'E_INVALID_BOOL'],
    [
      'packed bool holding 2',
      () => compileUniversal(t.struct('B', { b: t.list(t.bool()) })).decode(unhex('0a 02 0102')),
      'E_INVALID_BOOL',
    ],
    [
      'enum index past the last variant',
      () => compileUniversal(N).decode(unhex('30 03')),
      'E_INVALID_ENUM_VARIANT',
    ],
    [
      'negative enum index',
      () => compileUniversal(N).decode(unhex('30 ffffffffffffffffff01')),
      'E_INVALID_ENUM_VARIANT',
    ],
    ['u8 field holding 256', () => compileUniversal(N).decode(unhex('10 8002')), 'E_RANGE'],
    [
      'u64 varint of 11 bytes',
      () => compileUniversal(N).decode(unhex('18 ffffffffffffffffffff01')),
      'E_VARINT_OVERFLOW',
    ],
    [
      'u64 varint overflowing 64 bits in byte 10',
      () => compileUniversal(N).decode(unhex('18 ffffffffffffffffff02')),
      'E_VARINT_OVERFLOW',
    ],
    [
      'u32 varint of 11 bytes',
      () => compileUniversal(N).decode(unhex('20 ffffffffffffffffffff01')),
      'E_VARINT_OVERFLOW',
    ],
    [
      'missing required nested struct',
      () => compileUniversal(Outer).decode(unhex('12 02 2000')),
      'E_MISSING_FIELD',
    ],
    ['missing required union', () => compileUniversal(Outer).decode(unhex('0a 00')), 'E_MISSING_FIELD'],
    [
      'union with no variant set',
      () => compileUniversal(Outer).decode(unhex('0a 00 12 00')),
      'E_MISSING_FIELD',
    ],
    [
      'string longer than the payload',
      () => compileUniversal(N).decode(unhex('2a 05 61')),
      'E_FRAME_TRUNCATED',
    ],
    ['varint cut off', () => compileUniversal(N).decode(unhex('18 ff')), 'E_FRAME_TRUNCATED'],
    [
      'nested message longer than its parent',
      () => compileUniversal(Outer).decode(unhex('0a 05 0801')),
      'E_FRAME_TRUNCATED',
    ],
    ['wire type 7', () => compileUniversal(N).decode(unhex('0f 00')), 'E_DECODE'],
    ['field number 0', () => compileUniversal(N).decode(unhex('00 00')), 'E_DECODE'],
    ['unterminated group', () => compileUniversal(N).decode(unhex('7b')), 'E_FRAME_TRUNCATED'],
    ['not bytes', () => compileUniversal(N).decode('x' as never), 'E_INVALID_ARGUMENT'],
  ];
  it.each(bad)('%s', (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });

  it('groups nested past the recursion limit are E_DECODE, not a stack overflow', () => {
    const deep = new Uint8Array(200_000).fill(0x0b); // field 1, start group, repeated
    expect(codeOf(() => compileUniversal(N).decode(deep))).toBe('E_DECODE');
  });
});

describe('compileUniversal: values that do not match the schema', () => {
  const N = t.struct('N', {
    small: t.u8(),
    big: t.u64(),
    neg: t.i64(),
    i: t.i32(),
    text: t.string(),
    kind: Kind,
    op: Op,
    m: t.map(t.u8(), t.bool()),
  });
  const ok = {
    small: 1,
    big: 1n,
    neg: -1n,
    i: 0,
    text: '',
    kind: 'File',
    op: { kind: 'Noop' },
    m: new Map(),
  };
  const bad: [string, Record<string, unknown>, TmeshErrorCode][] = [
    ['u8 256', { small: 256 }, 'E_RANGE'],
    ['u8 -1', { small: -1 }, 'E_RANGE'],
    ['u8 1.5', { small: 1.5 }, 'E_ENCODE_INVALID_VALUE'],
    ['u8 as string', { small: '1' }, 'E_ENCODE_INVALID_VALUE'],
    ['u64 as number', { big: 1 }, 'E_ENCODE_INVALID_VALUE'],
    ['u64 negative', { big: -1n }, 'E_RANGE'],
    ['u64 2^64', { big: 2n ** 64n }, 'E_RANGE'],
    ['i64 below min', { neg: -(2n ** 63n) - 1n }, 'E_RANGE'],
    ['i32 2^31', { i: 2 ** 31 }, 'E_RANGE'],
    ['string lone surrogate', { text: 'a\ud800' }, 'E_ENCODE_INVALID_VALUE'],
    ['string as number', { text: 5 }, 'E_ENCODE_INVALID_VALUE'],
    ['enum unknown name', { kind: 'Socket' }, 'E_ENCODE_INVALID_VALUE'],
    ['union unknown kind', { op: { kind: 'Move' } }, 'E_ENCODE_INVALID_VALUE'],
    ['union data missing', { op: { kind: 'Chmod' } }, 'E_ENCODE_INVALID_VALUE'],
    ['union not an object', { op: 'Noop' }, 'E_ENCODE_INVALID_VALUE'],
    ['map as object', { m: { 1: true } }, 'E_ENCODE_INVALID_VALUE'],
    ['map key out of range', { m: new Map([[300, true]]) }, 'E_RANGE'],
    ['map value wrong type', { m: new Map([[1, 1]]) }, 'E_ENCODE_INVALID_VALUE'],
  ];
  it.each(bad)('%s', (_name, patch, code) => {
    expect(codeOf(() => compileUniversal(N).encode({ ...ok, ...patch } as never))).toBe(code);
  });

  it('a missing required struct, a null value and a list that is not an array are refused', () => {
    const c = compileUniversal(AllTypes);
    expect(codeOf(() => c.encode(null as never))).toBe('E_ENCODE_INVALID_VALUE');
    expect(codeOf(() => compileUniversal(t.struct('S', { inner: Inner })).encode({} as never))).toBe(
      'E_ENCODE_INVALID_VALUE',
    );
    expect(
      codeOf(() => compileUniversal(t.struct('L', { l: t.list(t.u8()) })).encode({ l: new Set() } as never)),
    ).toBe('E_ENCODE_INVALID_VALUE');
  });
});

describe('toProtoSource', () => {
  it('prints the sample schemas as the committed samples.proto says', async () => {
    const { readFileSync } = await import('node:fs');
    const { SAMPLES_HEADER } = await import('./vectors.js');
    const committed = readFileSync(
      new URL('../../../test-vectors/universal/samples.proto', import.meta.url),
      'utf8',
    );
    expect(
      toProtoSource([sampleMessages.AllTypes, sampleMessages.FileChunk, sampleMessages.Metrics], {
        header: SAMPLES_HEADER,
      }),
    ).toBe(committed);
  });

  it('loads back through loadProtoSchemas into the same schema (32-bit widths aside)', () => {
    const loaded = loadProtoSchemas(toProtoSource([Metrics, Op]));
    expect(loaded.get('Metrics').desc).toEqual(Metrics.desc);
    expect(loaded.get('Op').desc).toEqual(Op.desc);
  });

  it('a schema loaded from the committed samples.proto writes the same bytes as the TypeScript one', async () => {
    const { readFileSync } = await import('node:fs');
    const source = readFileSync(
      new URL('../../../test-vectors/universal/samples.proto', import.meta.url),
      'utf8',
    );
    const loaded = loadProtoSchemas(source, 'samples.proto');
    const value = {
      path: 'p/ä',
      offset: 2n ** 40n,
      sequence: 9,
      last: true,
      data: new Uint8Array([1, 2, 3]),
    };
    const fromProto = compileUniversal(loaded.get<typeof value>('FileChunk'));
    expect(hex(fromProto.encode(value))).toBe(hex(compileUniversal(FileChunk).encode(value)));
    const metrics = { node: 'n', at: 5n, throughput: 0.5, latencyMicros: 2, counters: new Map([['a', 1n]]) };
    expect(hex(compileUniversal(loaded.get<typeof metrics>('Metrics')).encode(metrics))).toBe(
      hex(compileUniversal(Metrics).encode(metrics)),
    );
  });

  it('refuses constructs proto3 cannot say', () => {
    const cases: Schema<any>[] = [
      t.struct('A', { l: t.list(t.list(t.u8())) }),
      t.struct('B', { m: t.map(t.string(), t.list(t.u8())) }),
      t.struct('C', { l: t.list(t.optional(t.u8())) }),
      t.struct('D', { u: t.union('U', { value: t.u8() }) }),
      t.struct('E', { u: t.union('V', { many: t.list(t.u8()) }) }),
    ];
    for (const s of cases) {
      expect(codeOf(() => toProtoSource([s]))).toBe('E_SCHEMA_UNSUPPORTED');
      expect(codeOf(() => compileUniversal(s))).toBe('E_SCHEMA_UNSUPPORTED');
    }
    expect(codeOf(() => compileUniversal(Kind as never))).toBe('E_SCHEMA_UNSUPPORTED');
  });

  it('names the unit message so it does not collide with a user type', () => {
    const Unit = t.struct('Unit', { x: t.u8() });
    const U = t.union('U', { A: null, B: Unit });
    const src = toProtoSource([U]);
    expect(src).toContain('message Unit_ {}');
    const c = compileUniversal(U);
    expect(c.decode(c.encode({ kind: 'A' }))).toEqual({ kind: 'A' });
  });
});
