import { type Schema, sampleMessages, type TmeshErrorCode, t } from '@tmesh/core';
import fc from 'fast-check';
import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { unhex as bytes, hex } from '../../../test-support/bytes.js';
import { codeOf } from '../../../test-support/errors.js';
import { compileSwift } from './index.js';
import { arbitraryFor, arbitrarySchema } from './test-support/arbitrary.js';

/** A MessagePack str for `s` (fixstr only, for hand-written test payloads). */
const s = (text: string): string => {
  const b = Buffer.from(text, 'utf8');
  if (b.length > 31) throw new Error('fixstr only');
  return (0xa0 | b.length).toString(16) + b.toString('hex');
};

const { FileChunk, AllTypes, Op, Kind, Inner } = sampleMessages.schemas;

describe('known answers (exact bytes)', () => {
  it('FileChunk: a map keyed by field name, in declaration order', () => {
    const codec = compileSwift(FileChunk);
    const out = codec.encode({ path: 'a', offset: 0n, sequence: 1, last: true, data: Uint8Array.of(1, 2) });
    expect(hex(out)).toBe(
      '85' +
        `${s('path')}a161` +
        `${s('offset')}00` +
        `${s('sequence')}01` +
        `${s('last')}c3` +
        `${s('data')}c4020102`,
    );
  });

  const ints: [Schema<any>, number | bigint, string][] = [
    [t.i64(), 0n, '00'],
    [t.i64(), 127n, '7f'],
    [t.i64(), 128n, 'cc80'],
    [t.i64(), 255n, 'ccff'],
    [t.i64(), 256n, 'cd0100'],
    [t.i64(), 65535n, 'cdffff'],
    [t.i64(), 65536n, 'ce00010000'],
    [t.i64(), 4294967295n, 'ceffffffff'],
    [t.i64(), 4294967296n, 'cf0000000100000000'],
    [t.i64(), 0x7fffffffffffffffn, 'cf7fffffffffffffff'],
    [t.i64(), -1n, 'ff'],
    [t.i64(), -32n, 'e0'],
    [t.i64(), -33n, 'd0df'],
    [t.i64(), -128n, 'd080'],
    [t.i64(), -129n, 'd1ff7f'],
    [t.i64(), -32768n, 'd18000'],
    [t.i64(), -32769n, 'd2ffff7fff'],
    [t.i64(), -2147483648n, 'd280000000'],
    [t.i64(), -2147483649n, 'd3ffffffff7fffffff'],
    [t.i64(), -0x8000000000000000n, 'd38000000000000000'],
    [t.u64(), 0xffffffffffffffffn, 'cfffffffffffffffff'],
    [t.u64(), 5n, '05'],
    [t.u8(), 200, 'ccc8'],
    [t.u16(), 300, 'cd012c'],
    [t.u32(), 70000, 'ce00011170'],
    [t.i8(), -5, 'fb'],
    [t.i16(), -200, 'd1ff38'],
    [t.i32(), 100000, 'ce000186a0'],
    [t.i32(), -100000, 'd2fffe7960'],
  ];
  it.each(ints)('%#: integers take the smallest encoding', (schema, value, expected) => {
    const codec = compileSwift(schema);
    expect(hex(codec.encode(value))).toBe(expected);
    expect(codec.decode(bytes(expected))).toBe(value);
  });

  const floats: [Schema<number>, number, string][] = [
    [t.f32(), 1.5, 'ca3fc00000'],
    [t.f32(), Number.NaN, 'ca7fc00000'],
    [t.f32(), Number.POSITIVE_INFINITY, 'ca7f800000'],
    [t.f32(), Number.NEGATIVE_INFINITY, 'caff800000'],
    [t.f32(), -0, 'ca80000000'],
    [t.f64(), 1.5, 'cb3ff8000000000000'],
    [t.f64(), -0.1, 'cbbfb999999999999a'],
    [t.f64(), Number.NaN, 'cb7ff8000000000000'],
    [t.f64(), Number.NEGATIVE_INFINITY, 'cbfff0000000000000'],
    [t.f64(), 5e-324, 'cb0000000000000001'],
  ];
  it.each(floats)('%#: f32 is float 32, f64 is float 64', (schema, value, expected) => {
    const codec = compileSwift(schema);
    expect(hex(codec.encode(value))).toBe(expected);
    expect(Object.is(codec.decode(bytes(expected)), value)).toBe(true);
  });

  it('strings and bin take the smallest header', () => {
    const str = compileSwift(t.string());
    expect(hex(str.encode(''))).toBe('a0');
    expect(hex(str.encode('é'))).toBe('a2c3a9');
    expect(hex(str.encode('😀'))).toBe('a4f09f9880');
    expect(hex(str.encode('a'.repeat(31)))).toBe(`bf${'61'.repeat(31)}`);
    expect(hex(str.encode('a'.repeat(32)))).toBe(`d920${'61'.repeat(32)}`);
    expect(hex(str.encode('é'.repeat(16)))).toBe(`d920${'c3a9'.repeat(16)}`);
    expect(hex(str.encode('é'.repeat(15)))).toBe(`be${'c3a9'.repeat(15)}`);
    expect(hex(str.encode('a'.repeat(255)))).toBe(`d9ff${'61'.repeat(255)}`);
    expect(hex(str.encode('a'.repeat(256)))).toBe(`da0100${'61'.repeat(256)}`);
    // A long string whose 3-bytes-per-unit bound picked a bigger header than it needed.
    expect(hex(str.encode('a'.repeat(100)))).toBe(`d964${'61'.repeat(100)}`);
    expect(hex(str.encode('a'.repeat(70000)).subarray(0, 5))).toBe('db00011170');
    const bin = compileSwift(t.bytes());
    expect(hex(bin.encode(new Uint8Array(0)))).toBe('c400');
    expect(hex(bin.encode(new Uint8Array(256)).subarray(0, 3))).toBe('c50100');
    expect(hex(bin.encode(new Uint8Array(65536)).subarray(0, 5))).toBe('c600010000');
  });

  it('arrays and maps: fix, 16 and 32-bit headers', () => {
    const list = compileSwift(t.list(t.u8()));
    expect(hex(list.encode([]))).toBe('90');
    expect(hex(list.encode(Array(15).fill(1)))).toBe(`9f${'01'.repeat(15)}`);
    expect(hex(list.encode(Array(16).fill(1)))).toBe(`dc0010${'01'.repeat(16)}`);
    expect(hex(list.encode(Array(65536).fill(1)).subarray(0, 5))).toBe('dd00010000');
    const map = compileSwift(t.map(t.u32(), t.bool()));
    expect(hex(map.encode(new Map([[1, true]])))).toBe('8101c3');
    const big = new Map(Array.from({ length: 16 }, (_, i) => [i, false] as [number, boolean]));
    expect(hex(map.encode(big).subarray(0, 3))).toBe('de0010');
  });

  it('unit enums are the case name; unions are { case: { _0: value } } or { case: {} }', () => {
    expect(hex(compileSwift(Kind).encode('File'))).toBe(s('File'));
    const op = compileSwift(Op);
    expect(hex(op.encode({ kind: 'Noop' }))).toBe(`81${s('Noop')}80`);
    expect(hex(op.encode({ kind: 'Chmod', value: 420 }))).toBe(`81${s('Chmod')}81${s('_0')}cd01a4`);
    expect(hex(op.encode({ kind: 'Delete', value: { path: 'x' } }))).toBe(
      `81${s('Delete')}81${s('_0')}81${s('path')}${s('x')}`,
    );
    expect(hex(op.encode({ kind: 'Rename', value: { from: 'a', to: 'b' } }))).toBe(
      `81${s('Rename')}81${s('_0')}82${s('from')}${s('a')}${s('to')}${s('b')}`,
    );
  });

  it('a nil optional leaves its key out', () => {
    const S = t.struct('Opt', { a: t.optional(t.u8()), b: t.u8(), c: t.optional(t.string()) });
    const codec = compileSwift(S);
    expect(hex(codec.encode({ b: 1 }))).toBe(`81${s('b')}01`);
    expect(hex(codec.encode({ a: undefined, b: 1, c: 'z' }))).toBe(`82${s('b')}01${s('c')}${s('z')}`);
    expect(hex(codec.encode({ a: 2, b: 1 }))).toBe(`82${s('a')}02${s('b')}01`);
    expect(codec.decode(bytes(`81${s('b')}01`))).toEqual({ b: 1 });
    expect('a' in (codec.decode(bytes(`81${s('b')}01`)) as object)).toBe(false);
  });

  it('optional items in lists are nil', () => {
    const codec = compileSwift(t.list(t.optional(t.u8())) as Schema<(number | undefined)[]>);
    expect(hex(codec.encode([1, undefined, 3]))).toBe('9301c003');
    expect(codec.decode(bytes('9301c003'))).toEqual([1, undefined, 3]);
  });

  it('msgpackr (a third-party decoder) reads our bytes as the same structure', () => {
    const codec = compileSwift(AllTypes);
    const value = {
      flag: true,
      u8v: 1,
      u16v: 2,
      u32v: 3,
      u64v: 4n,
      i8v: -1,
      i16v: -2,
      i32v: -3,
      i64v: -4n,
      f32v: 0.5,
      f64v: 0.25,
      text: 'ü',
      blob: Uint8Array.of(9),
      numbers: [1],
      inner: { id: 1, label: 'l' },
      inners: [],
      counts: new Map([['k', 7n]]),
      kind: 'Symlink' as const,
      op: { kind: 'Chmod' as const, value: 7 },
      ops: [{ kind: 'Noop' as const }],
    };
    const generic = unpack(codec.encode(value));
    expect(Array.from(generic.blob)).toEqual([9]);
    delete generic.blob;
    const { blob: _, ...rest } = value;
    expect(generic).toEqual({
      ...rest,
      u64v: 4,
      i64v: -4,
      counts: { k: 7 },
      op: { Chmod: { _0: 7 } },
      ops: [{ Noop: {} }],
    });
  });
});

describe('decoder tolerance (what a Swift encoder may send)', () => {
  const S = t.struct('Tol', { a: t.u8(), b: t.string(), c: t.optional(t.u64()), d: t.f64(), e: t.f32() });
  const codec = compileSwift(S);

  it('keys in any order', () => {
    const p = bytes(
      `85${s('e')}ca3fc00000${s('d')}cb3ff8000000000000${s('c')}07${s('b')}${s('x')}${s('a')}01`,
    );
    expect(codec.decode(p)).toEqual({ a: 1, b: 'x', c: 7n, d: 1.5, e: 1.5 });
  });

  it('any integer width, and either float width', () => {
    const p = bytes(
      `85${s('a')}cf0000000000000001${s('b')}${s('x')}${s('c')}d20000000f${s('d')}ca3fc00000${s('e')}cb3ff8000000000000`,
    );
    expect(codec.decode(p)).toEqual({ a: 1, b: 'x', c: 15n, d: 1.5, e: 1.5 });
    const i = compileSwift(t.i32());
    expect(i.decode(bytes('d3ffffffffffffffff'))).toBe(-1);
    expect(i.decode(bytes('cd0100'))).toBe(256);
    expect(compileSwift(t.u8()).decode(bytes('d07f'))).toBe(127);
    expect(compileSwift(t.u64()).decode(bytes('d3000000000000000a'))).toBe(10n);
    expect(compileSwift(t.i64()).decode(bytes('cc05'))).toBe(5n);
  });

  it('nil for an optional, and str 8 headers on short keys and case names', () => {
    const p = bytes(
      `85d90161 01${s('b')}${s('x')}${s('c')}c0${s('d')}cb0000000000000000 ${s('e')}ca00000000`,
    );
    expect(codec.decode(p)).toEqual({ a: 1, b: 'x', d: 0, e: 0 });
    expect(compileSwift(Kind).decode(bytes('d90446696c65'))).toBe('File');
  });

  it('unknown extra keys are skipped whatever their value (a newer Swift struct)', () => {
    const extra = [
      `${s('z1')}c0`,
      `${s('z2')}93 01 a161 c3`,
      `${s('z3')}82 a161 91c0 01 de0001 a162 cb0000000000000000`,
      `${s('z4')}d6ff00000001`,
      `${s('z5')}c70301aabbcc`,
      `${s('z6')}c50003 010203`,
      `${s('z7')}da0002 6869`,
      `${s('z8')}cf0000000000000001`,
    ];
    const p = bytes(
      `8${(5 + extra.length).toString(16)}${extra.slice(0, 4).join('')}${s('a')}01${s('b')}${s('x')}${s('d')}cb0000000000000000${s('e')}ca00000000${s('c')}05${extra.slice(4).join('')}`,
    );
    expect(codec.decode(p)).toEqual({ a: 1, b: 'x', c: 5n, d: 0, e: 0 });
  });

  it('unions ignore extra keys beside _0', () => {
    const op = compileSwift(Op);
    expect(op.decode(bytes(`81${s('Chmod')}82${s('x')}c3${s('_0')}05`))).toEqual({ kind: 'Chmod', value: 5 });
    expect(op.decode(bytes(`81${s('Noop')}81${s('x')}c3`))).toEqual({ kind: 'Noop' });
  });
});

describe('zero copy', () => {
  it('bytes decode as views of the input unless copy is asked for', () => {
    const codec = compileSwift(FileChunk);
    const input = codec.encode({
      path: 'p',
      offset: 1n,
      sequence: 2,
      last: false,
      data: Uint8Array.of(1, 2, 3),
    });
    const view = codec.decode(input).data;
    expect(view.buffer).toBe(input.buffer);
    const copied = codec.decode(input, { copy: true }).data;
    expect(copied.buffer).not.toBe(input.buffer);
    input[input.length - 1] = 99;
    expect(view[2]).toBe(99);
    expect(copied[2]).toBe(3);
  });

  it('an encoded message is never overwritten by the next one', () => {
    const codec = compileSwift(FileChunk);
    const a = codec.encode({
      path: 'first',
      offset: 1n,
      sequence: 1,
      last: false,
      data: new Uint8Array(10).fill(1),
    });
    const before = hex(a);
    const many = [];
    for (let i = 0; i < 2000; i++) {
      many.push(
        codec.encode({
          path: `n${i}`,
          offset: 2n,
          sequence: i,
          last: true,
          data: new Uint8Array(40).fill(i),
        }),
      );
    }
    // One message bigger than a slab, started near the end of one.
    const big = codec.encode({
      path: 'big',
      offset: 3n,
      sequence: 3,
      last: true,
      data: new Uint8Array(200_000).fill(5),
    });
    expect(hex(a)).toBe(before);
    many.forEach((m, i) => {
      expect(codec.decode(m).sequence).toBe(i);
    });
    expect(codec.decode(big).data.every((b) => b === 5)).toBe(true);
  });
});

describe('round trips (fast-check)', () => {
  it('AllTypes: decode(encode(v)) equals v and re-encodes to the same bytes', () => {
    const codec = compileSwift(AllTypes);
    fc.assert(
      fc.property(arbitraryFor(AllTypes.desc), (value) => {
        const encoded = codec.encode(value as never);
        const decoded = codec.decode(encoded);
        expect(decoded).toEqual(value);
        expect(hex(codec.encode(decoded))).toBe(hex(encoded));
      }),
      { numRuns: 300 },
    );
  });

  it('random schemas: every generated schema round-trips its generated values', () => {
    fc.assert(
      fc.property(
        arbitrarySchema(3).chain((schema) =>
          fc.tuple(fc.constant(schema), fc.array(arbitraryFor(schema.desc), { minLength: 1, maxLength: 5 })),
        ),
        ([schema, values]) => {
          const codec = compileSwift(schema);
          for (const value of values) {
            const encoded = codec.encode(value);
            const decoded = codec.decode(encoded);
            expect(decoded).toEqual(value);
            expect(hex(codec.encode(decoded))).toBe(hex(encoded));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('compiles once per schema', () => {
    expect(compileSwift(Inner)).toBe(compileSwift(Inner));
  });
});

describe('encode errors', () => {
  const S = t.struct('Enc', {
    u8: t.u8(),
    i8: t.i8(),
    u32: t.u32(),
    i32: t.i32(),
    u64: t.u64(),
    i64: t.i64(),
    f32: t.f32(),
    f64: t.f64(),
    str: t.string(),
    bin: t.bytes(),
    flag: t.bool(),
    list: t.list(t.u8()),
    map: t.map(t.string(), t.u8()),
    kind: Kind,
    op: Op,
  });
  const good = {
    u8: 1,
    i8: -1,
    u32: 1,
    i32: -1,
    u64: 1n,
    i64: -1n,
    f32: 1,
    f64: 1,
    str: 's',
    bin: new Uint8Array(1),
    flag: true,
    list: [1],
    map: new Map([['a', 1]]),
    kind: 'File',
    op: { kind: 'Noop' },
  };
  const codec = compileSwift(S as Schema<any>);
  const cases: [string, Record<string, unknown>, TmeshErrorCode][] = [
    ['u8 = 256', { u8: 256 }, 'E_RANGE'],
    ['u8 = -1', { u8: -1 }, 'E_RANGE'],
    ['u8 = 1.5', { u8: 1.5 }, 'E_RANGE'],
    ['u8 = "1"', { u8: '1' }, 'E_ENCODE_INVALID_VALUE'],
    ['u8 missing', { u8: undefined }, 'E_ENCODE_INVALID_VALUE'],
    ['i8 = 128', { i8: 128 }, 'E_RANGE'],
    ['u32 = 2^32', { u32: 2 ** 32 }, 'E_RANGE'],
    ['i32 = 2^31', { i32: 2 ** 31 }, 'E_RANGE'],
    ['i32 = NaN', { i32: Number.NaN }, 'E_RANGE'],
    ['u64 = 2^64', { u64: 2n ** 64n }, 'E_RANGE'],
    ['u64 = -1n', { u64: -1n }, 'E_RANGE'],
    ['u64 = 1 (number)', { u64: 1 }, 'E_ENCODE_INVALID_VALUE'],
    ['i64 = 2^63', { i64: 2n ** 63n }, 'E_RANGE'],
    ['i64 = "1"', { i64: '1' }, 'E_ENCODE_INVALID_VALUE'],
    ['f32 = 1e39', { f32: 1e39 }, 'E_RANGE'],
    ['f32 = 1n', { f32: 1n }, 'E_ENCODE_INVALID_VALUE'],
    ['f64 = "1"', { f64: '1' }, 'E_ENCODE_INVALID_VALUE'],
    ['str = 1', { str: 1 }, 'E_ENCODE_INVALID_VALUE'],
    ['str with a lone surrogate', { str: 'a\ud800b' }, 'E_ENCODE_INVALID_VALUE'],
    ['long str with a lone surrogate', { str: `${'a'.repeat(100)}\udc00` }, 'E_ENCODE_INVALID_VALUE'],
    ['bin = array', { bin: [1] }, 'E_ENCODE_INVALID_VALUE'],
    ['flag = 1', { flag: 1 }, 'E_ENCODE_INVALID_VALUE'],
    ['list = Set', { list: new Set([1]) }, 'E_ENCODE_INVALID_VALUE'],
    ['list item 300', { list: [300] }, 'E_RANGE'],
    ['map = object', { map: { a: 1 } }, 'E_ENCODE_INVALID_VALUE'],
    ['map key 1', { map: new Map([[1, 1]]) }, 'E_ENCODE_INVALID_VALUE'],
    ['kind = "Nope"', { kind: 'Nope' }, 'E_ENCODE_INVALID_VALUE'],
    ['op kind unknown', { op: { kind: 'Nope' } }, 'E_ENCODE_INVALID_VALUE'],
    ['op = string', { op: 'Noop' }, 'E_ENCODE_INVALID_VALUE'],
    ['op Chmod without value', { op: { kind: 'Chmod' } }, 'E_ENCODE_INVALID_VALUE'],
  ];
  it.each(cases)('%s', (_, change, code) => {
    expect(codeOf(() => codec.encode({ ...good, ...change }))).toBe(code);
  });

  it('the good value encodes, and a failed encode does not corrupt the next one', () => {
    expect(codeOf(() => codec.encode({ ...good, str: 'x'.repeat(5000), u64: -5n }))).toBe('E_RANGE');
    expect(codec.decode(codec.encode(good))).toEqual(good);
  });

  it('null or a non-object is E_ENCODE_INVALID_VALUE', () => {
    expect(codeOf(() => codec.encode(null))).toBe('E_ENCODE_INVALID_VALUE');
    expect(codeOf(() => codec.encode(5))).toBe('E_ENCODE_INVALID_VALUE');
  });
});

describe('decode errors: each malformed input has its own code', () => {
  const codec = compileSwift(FileChunk);
  const valid = (extra = ''): string =>
    `${s('path')}${s('p')}${s('offset')}01${s('sequence')}02${s('last')}c2${s('data')}c40107${extra}`;

  const cases: [string, string, TmeshErrorCode][] = [
    [
      'missing required key',
      `84${s('path')}${s('p')}${s('offset')}01${s('sequence')}02${s('last')}c2`,
      'E_MISSING_FIELD',
    ],
    ['bool field holding 2', `85${valid().replace(`${s('last')}c2`, `${s('last')}02`)}`, 'E_INVALID_BOOL'],
    ['bool field holding nil', `85${valid().replace(`${s('last')}c2`, `${s('last')}c0`)}`, 'E_INVALID_BOOL'],
    ['trailing byte', `85${valid()}00`, 'E_TRAILING_BYTES'],
    ['truncated in the middle', `85${valid()}`.slice(0, 30), 'E_FRAME_TRUNCATED'],
    ['empty payload', '', 'E_FRAME_TRUNCATED'],
    ['map header claims more entries', `86${valid()}`, 'E_FRAME_TRUNCATED'],
    ['map 32 claiming 4 billion entries', `dfffffffff${valid()}`, 'E_FRAME_TRUNCATED'],
    [
      'bin 32 claiming 4 GiB',
      `85${valid().replace(`${s('data')}c40107`, `${s('data')}c6ffffffff07`)}`,
      'E_FRAME_TRUNCATED',
    ],
    [
      'str 32 claiming 4 GiB',
      `85${valid().replace(`${s('path')}${s('p')}`, `${s('path')}dbffffffff70`)}`,
      'E_FRAME_TRUNCATED',
    ],
    [
      'invalid UTF-8 (0xff)',
      `85${valid().replace(`${s('path')}${s('p')}`, `${s('path')}a2ff61`)}`,
      'E_INVALID_UTF8',
    ],
    [
      'overlong UTF-8 (c0 af)',
      `85${valid().replace(`${s('path')}${s('p')}`, `${s('path')}a2c0af`)}`,
      'E_INVALID_UTF8',
    ],
    [
      'UTF-8 surrogate (ed a0 80)',
      `85${valid().replace(`${s('path')}${s('p')}`, `${s('path')}a3eda080`)}`,
      'E_INVALID_UTF8',
    ],
    [
      'long invalid UTF-8',
      `85${valid().replace(`${s('path')}${s('p')}`, `${s('path')}d950${'61'.repeat(79)}ff`)}`,
      'E_INVALID_UTF8',
    ],
    ['invalid UTF-8 in a key', `85a2ff61c0${valid()}`, 'E_INVALID_UTF8'],
    [
      'u32 field holding 2^32',
      `85${valid().replace(`${s('sequence')}02`, `${s('sequence')}cf0000000100000000`)}`,
      'E_RANGE',
    ],
    ['u32 field holding -1', `85${valid().replace(`${s('sequence')}02`, `${s('sequence')}ff`)}`, 'E_RANGE'],
    [
      'u64 field holding -1',
      `85${valid().replace(`${s('offset')}01`, `${s('offset')}d3ffffffffffffffff`)}`,
      'E_RANGE',
    ],
    [
      'string where an integer belongs',
      `85${valid().replace(`${s('offset')}01`, `${s('offset')}${s('1')}`)}`,
      'E_DECODE',
    ],
    ['nil for a required field', `85${valid().replace(`${s('offset')}01`, `${s('offset')}c0`)}`, 'E_DECODE'],
    ['str where bin belongs', `85${valid().replace(`${s('data')}c40107`, `${s('data')}a107`)}`, 'E_DECODE'],
    ['the never-used byte 0xc1', `85${valid().replace(`${s('offset')}01`, `${s('offset')}c1`)}`, 'E_DECODE'],
    ['an array, not a map', '9101', 'E_DECODE'],
    ['a key twice', `86${valid()}${s('last')}c3`, 'E_DECODE'],
    ['an integer key', `8601c0${valid()}`, 'E_DECODE'],
    ['0xc1 inside an unknown key', `86${s('zz')}c1${valid()}`, 'E_DECODE'],
    ['unknown key with a truncated value', `86${valid()}${s('zz')}c5ffff`, 'E_FRAME_TRUNCATED'],
    [
      'unknown key with an array claiming 4 billion items',
      `86${s('zz')}ddffffffff${valid()}`,
      'E_FRAME_TRUNCATED',
    ],
  ];
  it.each(cases)('%s', (_, payload, code) => {
    expect(codeOf(() => codec.decode(bytes(payload)))).toBe(code);
  });

  it('the valid payload decodes', () => {
    expect(codec.decode(bytes(`85${valid()}`))).toEqual({
      path: 'p',
      offset: 1n,
      sequence: 2,
      last: false,
      data: Uint8Array.of(7),
    });
  });

  it('enums and unions: unknown case names and malformed shapes', () => {
    const kind = compileSwift(Kind);
    const op = compileSwift(Op);
    expect(codeOf(() => kind.decode(bytes(s('Nope'))))).toBe('E_INVALID_ENUM_VARIANT');
    expect(codeOf(() => kind.decode(bytes(s('file'))))).toBe('E_INVALID_ENUM_VARIANT');
    expect(codeOf(() => kind.decode(bytes('01')))).toBe('E_DECODE');
    expect(codeOf(() => op.decode(bytes(`81${s('Nope')}80`)))).toBe('E_INVALID_ENUM_VARIANT');
    expect(codeOf(() => op.decode(bytes('80')))).toBe('E_DECODE');
    expect(codeOf(() => op.decode(bytes(`82${s('Noop')}80${s('Chmod')}80`)))).toBe('E_DECODE');
    expect(codeOf(() => op.decode(bytes(`81${s('Chmod')}80`)))).toBe('E_MISSING_FIELD');
    expect(codeOf(() => op.decode(bytes(`81${s('Chmod')}82${s('_0')}01${s('_0')}02`)))).toBe('E_DECODE');
    expect(codeOf(() => op.decode(bytes(`81${s('Chmod')}${s('_0')}`)))).toBe('E_DECODE');
  });

  it('duplicate map keys are E_DECODE', () => {
    const m = compileSwift(t.map(t.string(), t.u8()));
    expect(codeOf(() => m.decode(bytes(`82${s('a')}01${s('a')}02`)))).toBe('E_DECODE');
  });

  it('a non-Uint8Array input is E_INVALID_ARGUMENT', () => {
    expect(codeOf(() => codec.decode('x' as never))).toBe('E_INVALID_ARGUMENT');
  });
});

describe('edge cases of the generated code', () => {
  it('fields named like Object.prototype members are not read from the prototype', () => {
    // Built from a descriptor: t.struct itself trips over these names (reported to core).
    const S = t.fromDesc<Record<string, unknown>>({
      kind: 'struct',
      name: 'Proto',
      fields: [
        { name: 'toString', tag: 1, type: { kind: 'optional', inner: { kind: 'u8' } } },
        { name: 'constructor', tag: 2, type: { kind: 'optional', inner: { kind: 'string' } } },
        { name: 'valueOf', tag: 3, type: { kind: 'u8' } },
      ],
    });
    const codec = compileSwift(S);
    expect(hex(codec.encode({ valueOf: 1 }))).toBe(`81${s('valueOf')}01`);
    expect(codec.decode(codec.encode({ valueOf: 1, toString: 2 }))).toEqual({ valueOf: 1, toString: 2 });
    expect(codeOf(() => codec.encode({}))).toBe('E_ENCODE_INVALID_VALUE');
  });

  it('a getter that encodes again is refused, and the codec still works afterwards', () => {
    const codec = compileSwift(Inner);
    const sneaky = {
      id: 1,
      get label(): string {
        codec.encode({ id: 2, label: 'inner' });
        return 'x';
      },
    };
    expect(codeOf(() => codec.encode(sneaky))).toBe('E_ENCODE_INVALID_VALUE');
    expect(codec.decode(codec.encode({ id: 3, label: 'ok' }))).toEqual({ id: 3, label: 'ok' });
  });

  it('strings of every length from 0 to 70, ASCII and not, decode to themselves', () => {
    const codec = compileSwift(t.string());
    for (let n = 0; n <= 70; n++) {
      for (const unit of ['a', 'é', '日', '😀']) {
        const text = unit.repeat(n);
        expect(codec.decode(codec.encode(text))).toBe(text);
      }
    }
  });
});
