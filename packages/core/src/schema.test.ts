import { describe, expect, expectTypeOf, it } from 'vitest';
import { codeOf } from '../../../test-support/errors.js';
import type { TmeshErrorCode } from './errors.js';
import { defineControlMessage, defineMessage, MessageRegistry } from './registry.js';
import { type Infer, namedTypes, type TypeDesc, t, validateDesc } from './schema.js';

describe('schema builder: inferred static types', () => {
  const Inner = t.struct('Inner', { id: t.u32(), tags: t.list(t.string()) });
  const Msg = t.struct('Msg', {
    flag: t.bool(),
    small: t.u8(),
    big: t.u64(),
    neg: t.i64(),
    ratio: t.f32(),
    name: t.string(),
    blob: t.bytes(),
    note: t.optional(t.string()),
    inner: Inner,
    counts: t.map(t.string(), t.i64()),
    color: t.enum('Color', ['Red', 'Green']),
    op: t.union('Op', { Stop: null, Move: t.struct('Move', { dx: t.i32() }), Raw: t.bytes() }),
  });

  it('infers field types, bigint for 64-bit and optional keys', () => {
    type M = Infer<typeof Msg>;
    expectTypeOf<M['flag']>().toEqualTypeOf<boolean>();
    expectTypeOf<M['small']>().toEqualTypeOf<number>();
    expectTypeOf<M['big']>().toEqualTypeOf<bigint>();
    expectTypeOf<M['neg']>().toEqualTypeOf<bigint>();
    expectTypeOf<M['ratio']>().toEqualTypeOf<number>();
    expectTypeOf<M['blob']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<M['inner']>().toEqualTypeOf<{ id: number; tags: string[] }>();
    expectTypeOf<M['counts']>().toEqualTypeOf<Map<string, bigint>>();
    expectTypeOf<M['color']>().toEqualTypeOf<'Red' | 'Green'>();
    expectTypeOf<M['op']>().toEqualTypeOf<
      { kind: 'Stop' } | { kind: 'Move'; value: { dx: number } } | { kind: 'Raw'; value: Uint8Array }
    >();
    expectTypeOf<M>().toHaveProperty('note');
    expectTypeOf<{ note?: string }>().toMatchTypeOf<Pick<M, 'note'>>();
    // A value without the optional key is valid; one with a wrong type is not.
    const ok: M = {
      flag: true,
      small: 1,
      big: 1n,
      neg: -1n,
      ratio: 0.5,
      name: 'x',
      blob: new Uint8Array(),
      inner: { id: 1, tags: [] },
      counts: new Map(),
      color: 'Red',
      op: { kind: 'Stop' },
    };
    expect(ok.note).toBeUndefined();
    // @ts-expect-error big must be a bigint
    const bad: M = { ...ok, big: 1 };
    expect(bad).toBeDefined();
    // @ts-expect-error unknown enum variant
    const badColor: M['color'] = 'Blue';
    expect(badColor).toBe('Blue');
  });

  it('builds descriptors with declaration order and tags 1..n', () => {
    const desc = Msg.desc;
    expect(desc.kind).toBe('struct');
    if (desc.kind !== 'struct') return;
    expect(desc.fields.map((f) => f.name).slice(0, 4)).toEqual(['flag', 'small', 'big', 'neg']);
    expect(desc.fields.map((f) => f.tag)).toEqual([...desc.fields.keys()].map((i) => i + 1));
    expect(desc.fields[7]!.type).toEqual({ kind: 'optional', inner: { kind: 'string' } });
  });

  it('keeps optional items in lists and map values', () => {
    const L = t.struct('L', { xs: t.list(t.optional(t.u32())), m: t.map(t.string(), t.optional(t.u64())) });
    expectTypeOf<Infer<typeof L>['xs']>().toEqualTypeOf<(number | undefined)[]>();
    expectTypeOf<Infer<typeof L>['m']>().toEqualTypeOf<Map<string, bigint | undefined>>();
  });

  it('accepts field names that shadow Object.prototype members', () => {
    const S = t.struct('S', { toString: t.u8(), constructor: t.u8(), valueOf: t.u8() });
    expect(S.desc.fields.map((f) => [f.name, f.tag])).toEqual([
      ['toString', 1],
      ['constructor', 2],
      ['valueOf', 3],
    ]);
  });

  it('accepts explicit protobuf tags', () => {
    const S = t.struct('S', { a: t.u32(), b: t.u32() }, { tags: { b: 10 } });
    expect(S.desc.fields.map((f) => f.tag)).toEqual([1, 10]);
  });

  it('lists named types dependencies first', () => {
    expect(namedTypes(Msg.desc).map((d) => d.name)).toEqual(['Inner', 'Color', 'Move', 'Op', 'Msg']);
  });
});

describe('schema validation errors', () => {
  it.each<[string, () => unknown, TmeshErrorCode]>([
    [
      'duplicate field name',
      () =>
        validateDesc({
          kind: 'struct',
          name: 'S',
          fields: [
            { name: 'a', tag: 1, type: { kind: 'u8' } },
            { name: 'a', tag: 2, type: { kind: 'u8' } },
          ],
        }),
      'E_SCHEMA_DUPLICATE_FIELD',
    ],
    [
      'duplicate tag',
      () => t.struct('S', { a: t.u8(), b: t.u8() }, { tags: { b: 1 } }),
      'E_SCHEMA_DUPLICATE_FIELD',
    ],
    ['duplicate enum variant', () => t.enum('E', ['A', 'A']), 'E_SCHEMA_DUPLICATE_FIELD'],
    [
      'unknown type kind',
      () => validateDesc({ kind: 'u128' } as unknown as TypeDesc),
      'E_SCHEMA_UNKNOWN_TYPE',
    ],
    ['non-schema field', () => t.struct('S', { a: 'u8' as never }), 'E_SCHEMA_UNKNOWN_TYPE'],
    ['non-schema list item', () => t.list({} as never), 'E_SCHEMA_UNKNOWN_TYPE'],
    ['bad struct name', () => t.struct('1abc', {}), 'E_SCHEMA_INVALID'],
    ['bad field name', () => t.struct('S', { 'a-b': t.u8() }), 'E_SCHEMA_INVALID'],
    ['tag out of range', () => t.struct('S', { a: t.u8() }, { tags: { a: 0 } }), 'E_SCHEMA_INVALID'],
    ['reserved tag', () => t.struct('S', { a: t.u8() }, { tags: { a: 19000 } }), 'E_SCHEMA_INVALID'],
    [
      'tag for unknown field',
      () => t.struct('S', { a: t.u8() }, { tags: { b: 3 } as never }),
      'E_SCHEMA_INVALID',
    ],
    ['empty enum', () => t.enum('E', []), 'E_SCHEMA_INVALID'],
    ['empty union', () => t.union('U', {}), 'E_SCHEMA_INVALID'],
    ['float map key', () => t.map(t.f64(), t.u8()), 'E_SCHEMA_UNSUPPORTED'],
    ['optional of optional', () => t.optional(t.optional(t.u8())), 'E_SCHEMA_UNSUPPORTED'],
    [
      'two different types with one name',
      () =>
        namedTypes(
          t.struct('Outer', { a: t.struct('X', { a: t.u8() }), b: t.struct('X', { b: t.u8() }) }).desc,
        ),
      'E_SCHEMA_DUPLICATE_FIELD',
    ],
  ])('%s', (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });
});

describe('message registry', () => {
  const S = t.struct('S', { a: t.u8() });
  it('finds types by id and name', () => {
    const reg = new MessageRegistry([defineMessage('a.S', 1, S), defineMessage('a.T', 2, S)]);
    expect(reg.byId(2).name).toBe('a.T');
    expect(reg.byName('a.S').id).toBe(1);
    expect(reg.list().map((m) => m.id)).toEqual([1, 2]);
    expect(reg.register(defineControlMessage('tmesh.Ack', 240, S)).id).toBe(240);
  });
  it.each<[string, () => unknown, TmeshErrorCode]>([
    [
      'duplicate id',
      () => new MessageRegistry([defineMessage('a', 1, S), defineMessage('b', 1, S)]),
      'E_REGISTRY_DUPLICATE',
    ],
    [
      'duplicate name',
      () => new MessageRegistry([defineMessage('a', 1, S), defineMessage('a', 2, S)]),
      'E_REGISTRY_DUPLICATE',
    ],
    ['unknown id', () => new MessageRegistry().byId(9), 'E_UNKNOWN_MESSAGE_TYPE'],
    ['unknown name', () => new MessageRegistry().byName('x'), 'E_UNKNOWN_MESSAGE_TYPE'],
    ['id out of u8', () => defineMessage('a', 256, S), 'E_SCHEMA_INVALID'],
    ['reserved control id', () => defineMessage('a', 240, S), 'E_SCHEMA_INVALID'],
    ['control id outside its range', () => defineControlMessage('a', 239, S), 'E_SCHEMA_INVALID'],
    ['non-struct schema', () => defineMessage('a', 1, t.u8() as never), 'E_SCHEMA_INVALID'],
  ])('%s', (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });
});
