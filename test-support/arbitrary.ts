// fast-check values of any schema type, driven by the type's descriptor. The walk over the descriptor is
// the same for every wire; what differs is what each wire's tests want to stress (MessagePack's smallest
// integer encodings, protobuf varints, bincode's fixed widths) and how its decoder gives an absent optional
// back. A profile says that.
import fc from 'fast-check';
import type { ScalarKind, TypeDesc } from '../packages/core/src/index.js';

/** How `arbitraryOf` draws values. */
export interface ValueProfile {
  /** The values of each leaf kind. */
  leaves: Readonly<Record<ScalarKind, fc.Arbitrary<unknown>>>;
  /** The most elements a list, or entries a map, gets. */
  maxItems: number;
  /** Maps get distinct keys (a peer that keeps one entry per key would otherwise disagree). */
  distinctKeys?: boolean;
  /** An absent optional is a missing key (struct field) or no `value` (union payload), as decoders return it. */
  omitAbsent?: boolean;
}

/** Every integer kind over its full range, any float, bool. */
export const FULL_RANGE_NUMBERS = {
  bool: fc.boolean(),
  u8: fc.integer({ min: 0, max: 0xff }),
  u16: fc.integer({ min: 0, max: 0xffff }),
  u32: fc.integer({ min: 0, max: 0xffffffff }),
  u64: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
  i8: fc.integer({ min: -0x80, max: 0x7f }),
  i16: fc.integer({ min: -0x8000, max: 0x7fff }),
  i32: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  i64: fc.bigInt({ min: -0x8000000000000000n, max: 0x7fffffffffffffffn }),
  f32: fc.float(),
  f64: fc.double(),
} as const satisfies Partial<Record<ScalarKind, fc.Arbitrary<unknown>>>;

/** Whether `s` has no lone surrogate (so it survives a UTF-8 round trip unchanged). */
export const isWellFormed = (s: string): boolean =>
  (s as { isWellFormed?: () => boolean }).isWellFormed?.() !== false;

/** A fast-check arbitrary of the values of the type `desc` describes, as the API represents them. */
export function arbitraryOf(desc: TypeDesc, profile: ValueProfile): fc.Arbitrary<unknown> {
  const of = (inner: TypeDesc) => arbitraryOf(inner, profile);
  switch (desc.kind) {
    case 'optional':
      return fc.option(of(desc.inner), { nil: undefined });
    case 'list':
      return fc.array(of(desc.item), { maxLength: profile.maxItems });
    case 'map': {
      const entry = fc.tuple(of(desc.key), of(desc.value));
      const entries = profile.distinctKeys
        ? fc.uniqueArray(entry, { selector: (e) => e[0], maxLength: profile.maxItems })
        : fc.array(entry, { maxLength: profile.maxItems });
      return entries.map((e) => new Map(e));
    }
    case 'struct': {
      const fields: Record<string, fc.Arbitrary<unknown>> = {};
      for (const f of desc.fields) fields[f.name] = of(f.type);
      const record = fc.record(fields);
      if (!profile.omitAbsent) return record;
      return record.map((r) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
        return out;
      });
    }
    case 'enum':
      return fc.constantFrom(...desc.variants.map((v) => v.name));
    case 'union':
      return fc.oneof(
        ...desc.variants.map((v) =>
          v.type
            ? of(v.type).map((value) =>
                profile.omitAbsent && value === undefined ? { kind: v.name } : { kind: v.name, value },
              )
            : fc.constant({ kind: v.name }),
        ),
      );
    default: {
      const leaf = profile.leaves[desc.kind as ScalarKind];
      if (!leaf) throw new Error(`no arbitrary for ${(desc as { kind: string }).kind}`);
      return leaf;
    }
  }
}
