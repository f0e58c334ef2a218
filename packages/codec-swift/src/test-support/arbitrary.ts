// fast-check generators driven by a schema: values for any TypeDesc, and random schemas themselves.
import { type Schema, type TypeDesc, t } from '@tmesh/core';
import fc from 'fast-check';
import {
  arbitraryOf,
  FULL_RANGE_NUMBERS,
  isWellFormed,
  type ValueProfile,
} from '../../../../test-support/arbitrary.js';

/** Strings mixing short ASCII, any Unicode and long ones (both encoder paths). */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 40 }).filter(isWellFormed),
  fc.string({ unit: 'binary', minLength: 60, maxLength: 200 }).filter(isWellFormed),
);

/**
 * MessagePack's view: integers often small (fixint and the one-byte forms) as well as full width, short and
 * long bytes (bin8/bin16), and an absent optional as a missing key.
 */
const MSGPACK_VALUES: ValueProfile = {
  leaves: {
    ...FULL_RANGE_NUMBERS,
    u8: fc.integer({ min: 0, max: 255 }),
    u16: fc.integer({ min: 0, max: 65535 }),
    u32: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 4294967295 })),
    i8: fc.integer({ min: -128, max: 127 }),
    i16: fc.integer({ min: -32768, max: 32767 }),
    i32: fc.oneof(fc.integer({ min: -40, max: 300 }), fc.integer({ min: -2147483648, max: 2147483647 })),
    u64: fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })),
    i64: fc.oneof(
      fc.bigInt({ min: -40n, max: 300n }),
      fc.bigInt({ min: -0x8000000000000000n, max: 0x7fffffffffffffffn }),
    ),
    string: anyString,
    bytes: fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 250, maxLength: 300 })),
  },
  maxItems: 4,
  omitAbsent: true,
};

/** An arbitrary producing API values of `desc`. */
export function arbitraryFor(desc: TypeDesc): fc.Arbitrary<unknown> {
  return arbitraryOf(desc, MSGPACK_VALUES);
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
