import type { FieldDesc, TypeDesc, VariantDesc } from '@tmesh/core';
import { t } from '@tmesh/core';
import fc from 'fast-check';
import {
  FULL_RANGE_NUMBERS,
  type ValueProfile,
  arbitraryOf as valuesOf,
} from '../../../../test-support/arbitrary.js';

/** bincode's view: every integer over its full width, any string (lone surrogates too), distinct map keys. */
const BINCODE_VALUES: ValueProfile = {
  leaves: {
    ...FULL_RANGE_NUMBERS,
    string: fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.string({ minLength: 60, maxLength: 200 }),
    ),
    bytes: fc.uint8Array({ maxLength: 64 }),
  },
  maxItems: 6,
  distinctKeys: true,
};

/** A fast-check arbitrary of the values of a schema type, driven by its descriptor (test support). */
export function arbitraryOf(desc: TypeDesc): fc.Arbitrary<unknown> {
  return valuesOf(desc, BINCODE_VALUES);
}

const SCALARS: TypeDesc[] = (
  ['bool', 'u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'f32', 'f64', 'string', 'bytes'] as const
).map((kind) => ({ kind }));
const KEYS: TypeDesc[] = (['string', 'u8', 'u32', 'u64', 'i16', 'i64', 'bool'] as const).map((kind) => ({
  kind,
}));

let names = 0;

/** Random schema descriptors (nested structs, options, lists, maps, enums and unions), for round trips. */
export function arbitraryDesc(): fc.Arbitrary<TypeDesc> {
  const { desc } = fc.letrec<{ desc: TypeDesc }>((tie) => ({
    desc: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...SCALARS),
      fc.constantFrom(...SCALARS).map((inner): TypeDesc => ({ kind: 'optional', inner })),
      tie('desc').map((item): TypeDesc => ({ kind: 'list', item })),
      fc
        .tuple(fc.constantFrom(...KEYS), tie('desc'))
        .map(([key, value]): TypeDesc => ({ kind: 'map', key, value })),
      fc.array(tie('desc'), { maxLength: 5 }).map((types): TypeDesc => {
        const fields: FieldDesc[] = types.map((type, i) => ({ name: `f${i}`, tag: i + 1, type }));
        return { kind: 'struct', name: `S${names++}`, fields };
      }),
      fc.integer({ min: 1, max: 4 }).map(
        (n) =>
          t.enum(
            `E${names++}`,
            Array.from({ length: n }, (_, i) => `V${i}`),
          ).desc,
      ),
      fc
        .array(fc.option(tie('desc'), { nil: undefined }), { minLength: 1, maxLength: 4 })
        .map((types): TypeDesc => {
          const variants: VariantDesc[] = types.map((type, i) => ({
            name: `V${i}`,
            index: i,
            tag: i + 1,
            type,
          }));
          return { kind: 'union', name: `U${names++}`, variants };
        }),
    ),
  }));
  return desc;
}
