// fast-check generators driven by a schema: values for any TypeDesc, and random schemas themselves.
import { type Schema, type TypeDesc, t } from '@tmesh/core';
import fc from 'fast-check';

const wellFormed = (s: string): boolean => (s as { isWellFormed?: () => boolean }).isWellFormed?.() !== false;

/** Strings mixing short ASCII, any Unicode and long ones (both encoder paths). */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 40 }).filter(wellFormed),
  fc.string({ unit: 'binary', minLength: 60, maxLength: 200 }).filter(wellFormed),
);

/** An arbitrary producing API values of `desc`. */
export function arbitraryFor(desc: TypeDesc): fc.Arbitrary<unknown> {
  switch (desc.kind) {
    case 'bool':
      return fc.boolean();
    case 'u8':
      return fc.integer({ min: 0, max: 255 });
    case 'u16':
      return fc.integer({ min: 0, max: 65535 });
    case 'u32':
      return fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 4294967295 }));
    case 'i8':
      return fc.integer({ min: -128, max: 127 });
    case 'i16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'i32':
      return fc.oneof(fc.integer({ min: -40, max: 300 }), fc.integer({ min: -2147483648, max: 2147483647 }));
    case 'u64':
      return fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }));
    case 'i64':
      return fc.oneof(
        fc.bigInt({ min: -40n, max: 300n }),
        fc.bigInt({ min: -0x8000000000000000n, max: 0x7fffffffffffffffn }),
      );
    case 'f32':
      return fc.float();
    case 'f64':
      return fc.double();
    case 'string':
      return anyString;
    case 'bytes':
      return fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 250, maxLength: 300 }));
    case 'optional':
      return fc.option(arbitraryFor(desc.inner), { nil: undefined });
    case 'list':
      return fc.array(arbitraryFor(desc.item), { maxLength: 4 });
    case 'map':
      return fc
        .array(fc.tuple(arbitraryFor(desc.key), arbitraryFor(desc.value)), { maxLength: 4 })
        .map((entries) => new Map(entries));
    case 'struct': {
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const f of desc.fields) shape[f.name] = arbitraryFor(f.type);
      // An absent optional is a missing key, as the decoder returns it.
      return fc.record(shape).map((o) => {
        for (const key of Object.keys(o)) if (o[key] === undefined) delete o[key];
        return o;
      });
    }
    case 'enum':
      return fc.constantFrom(...desc.variants.map((v) => v.name));
    case 'union':
      return fc.oneof(
        ...desc.variants.map((v) =>
          v.type
            ? arbitraryFor(v.type).map((value) =>
                value === undefined ? { kind: v.name } : { kind: v.name, value },
              )
            : fc.constant({ kind: v.name }),
        ),
      );
    default:
      throw new Error(`no arbitrary for ${(desc as TypeDesc).kind}`);
  }
}

const SCALARS = [
  t.bool,
  t.u8,
  t.u16,
  t.u32,
  t.u64,
  t.i8,
  t.i16,
  t.i32,
  t.i64,
  t.f32,
  t.f64,
  t.string,
  t.bytes,
] as const;
const KEYS = [t.string, t.u8, t.u32, t.i64, t.u64, t.bool] as const;

let schemaCounter = 0;

/** Random schemas (nested structs, lists, maps, optionals, enums, unions) up to `depth` levels. */
export function arbitrarySchema(depth = 3): fc.Arbitrary<Schema<unknown>> {
  const scalar = fc.constantFrom(...SCALARS).map((make) => make() as Schema<unknown>);
  if (depth <= 0) return scalar;
  const inner = arbitrarySchema(depth - 1);
  const fieldNames = fc.uniqueArray(fc.stringMatching(/^[a-z][A-Za-z0-9_]{0,6}$/), {
    minLength: 1,
    maxLength: 5,
  });
  return fc.oneof(
    { weight: 3, arbitrary: scalar },
    {
      weight: 1,
      arbitrary: inner.map((s) => (s.desc.kind === 'optional' ? s : t.optional(s)) as Schema<unknown>),
    },
    { weight: 1, arbitrary: inner.map((s) => t.list(s) as Schema<unknown>) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...KEYS), inner)
        .map(([k, v]) => t.map(k() as Schema<unknown>, v) as Schema<unknown>),
    },
    {
      weight: 2,
      arbitrary: fieldNames.chain((names) =>
        fc
          .array(inner, { minLength: names.length, maxLength: names.length })
          .map(
            (types) =>
              t.struct(
                `S${schemaCounter++}`,
                Object.fromEntries(names.map((n, i) => [n, types[i]!])),
              ) as Schema<unknown>,
          ),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .uniqueArray(fc.stringMatching(/^[A-Z][a-z]{0,5}$/), { minLength: 1, maxLength: 4 })
        .map((names) => t.enum(`E${schemaCounter++}`, names) as Schema<unknown>),
    },
    {
      weight: 1,
      arbitrary: fc
        .uniqueArray(fc.stringMatching(/^[A-Z][a-z]{0,5}$/), { minLength: 1, maxLength: 4 })
        .chain((names) =>
          fc
            .array(fc.option(inner, { nil: null }), { minLength: names.length, maxLength: names.length })
            .map(
              (types) =>
                t.union(
                  `U${schemaCounter++}`,
                  Object.fromEntries(names.map((n, i) => [n, types[i]!])),
                ) as Schema<unknown>,
            ),
        ),
    },
  );
}
