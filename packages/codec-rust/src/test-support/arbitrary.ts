import type { FieldDesc, TypeDesc, VariantDesc } from '@tmesh/core';
import { t } from '@tmesh/core';
import fc from 'fast-check';

/** A fast-check arbitrary of the values of a schema type, driven by its descriptor (test support). */
export function arbitraryOf(desc: TypeDesc): fc.Arbitrary<unknown> {
  switch (desc.kind) {
    case 'bool':
      return fc.boolean();
    case 'u8':
      return fc.integer({ min: 0, max: 0xff });
    case 'u16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'u32':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'i8':
      return fc.integer({ min: -0x80, max: 0x7f });
    case 'i16':
      return fc.integer({ min: -0x8000, max: 0x7fff });
    case 'i32':
      return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case 'u64':
      return fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
    case 'i64':
      return fc.bigInt({ min: -0x8000000000000000n, max: 0x7fffffffffffffffn });
    case 'f32':
      return fc.float();
    case 'f64':
      return fc.double();
    case 'string':
      return fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.string({ unit: 'binary', maxLength: 30 }),
        fc.string({ minLength: 60, maxLength: 200 }),
      );
    case 'bytes':
      return fc.uint8Array({ maxLength: 64 });
    case 'optional':
      return fc.option(arbitraryOf(desc.inner), { nil: undefined });
    case 'list':
      return fc.array(arbitraryOf(desc.item), { maxLength: 6 });
    case 'map':
      return fc
        .uniqueArray(fc.tuple(arbitraryOf(desc.key), arbitraryOf(desc.value)), {
          selector: (e) => e[0],
          maxLength: 6,
        })
        .map((entries) => new Map(entries));
    case 'struct': {
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const f of desc.fields) record[f.name] = arbitraryOf(f.type);
      return fc.record(record);
    }
    case 'enum':
      return fc.constantFrom(...desc.variants.map((v) => v.name));
    case 'union':
      return fc.oneof(
        ...desc.variants.map((v) =>
          v.type
            ? arbitraryOf(v.type).map((value) => ({ kind: v.name, value }))
            : fc.constant({ kind: v.name }),
        ),
      );
    default:
      throw new Error(`no arbitrary for ${(desc as { kind: string }).kind}`);
  }
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
