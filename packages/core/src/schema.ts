import { tmeshError } from './errors.js';

/** Scalar type names a schema can use. 64-bit integers are bigint at the API. */
export type ScalarKind =
  | 'bool'
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64'
  | 'i8'
  | 'i16'
  | 'i32'
  | 'i64'
  | 'f32'
  | 'f64'
  | 'string'
  | 'bytes';

export const SCALAR_KINDS: readonly ScalarKind[] = [
  'bool',
  'u8',
  'u16',
  'u32',
  'u64',
  'i8',
  'i16',
  'i32',
  'i64',
  'f32',
  'f64',
  'string',
  'bytes',
];

/** A field of a struct: its name (the MessagePack key), its protobuf tag, and its type. */
export interface FieldDesc {
  readonly name: string;
  readonly tag: number;
  readonly type: TypeDesc;
}

/** A variant of an enum: its name, its index (bincode), its protobuf tag, and its data type if any. */
export interface VariantDesc {
  readonly name: string;
  readonly index: number;
  readonly tag: number;
  readonly type: TypeDesc | undefined;
}

/**
 * The runtime description of a type, which every codec compiles its encoder and decoder from.
 * `enum` has unit variants only (a string at the API); `union` has variants with data (`{ kind, value }`).
 */
export type TypeDesc =
  | { readonly kind: ScalarKind }
  | { readonly kind: 'optional'; readonly inner: TypeDesc }
  | { readonly kind: 'list'; readonly item: TypeDesc }
  | { readonly kind: 'map'; readonly key: TypeDesc; readonly value: TypeDesc }
  | { readonly kind: 'struct'; readonly name: string; readonly fields: readonly FieldDesc[] }
  | { readonly kind: 'enum'; readonly name: string; readonly variants: readonly VariantDesc[] }
  | { readonly kind: 'union'; readonly name: string; readonly variants: readonly VariantDesc[] };

/** Descriptors narrowed by kind. */
export type StructDesc = Extract<TypeDesc, { kind: 'struct' }>;
export type EnumDesc = Extract<TypeDesc, { kind: 'enum' }>;
export type UnionDesc = Extract<TypeDesc, { kind: 'union' }>;

declare const phantom: unique symbol;

/** A schema type: a runtime descriptor plus the static TypeScript type `T` of its values. */
export interface Schema<T = unknown> {
  readonly desc: TypeDesc;
  /** Type-level only; never present at runtime. */
  readonly [phantom]?: { value: T };
}

/** A schema whose values may be absent (`optional`). Struct fields of this kind become `key?:`. */
export interface OptionalSchema<T = unknown> extends Schema<T | undefined> {
  readonly desc: Extract<TypeDesc, { kind: 'optional' }>;
}

/** A struct schema, the usual top level of a message type. */
export interface StructSchema<T = unknown> extends Schema<T> {
  readonly desc: StructDesc;
}

/** The static type of the values of a schema. */
export type Infer<S> = S extends { readonly [phantom]?: { value: infer T } } ? T : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<F> = { [K in keyof F]: F[K] extends OptionalSchema<any> ? K : never }[keyof F];
type RequiredKeys<F> = Exclude<keyof F, OptionalKeys<F>>;

/** The value type of a struct with the given field schemas. */
export type InferStruct<F extends Record<string, Schema<any>>> = Simplify<
  { [K in RequiredKeys<F>]: Infer<F[K]> } & { [K in OptionalKeys<F>]?: Exclude<Infer<F[K]>, undefined> }
>;

/** The value type of a union with the given variants (`null` marks a unit variant). */
export type InferUnion<V extends Record<string, Schema<any> | null>> = {
  [K in keyof V]: V[K] extends Schema<infer T> ? { kind: K; value: T } : { kind: K };
}[keyof V];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_TAG = 536_870_911; // 2^29 - 1, protobuf's largest field number
const RESERVED_TAGS: readonly [number, number] = [19000, 19999];

function schemaOf<T>(desc: TypeDesc): Schema<T> {
  return Object.freeze({ desc }) as Schema<T>;
}

function descOf(value: unknown, where: string): TypeDesc {
  const desc = (value as { desc?: unknown } | null)?.desc as TypeDesc | undefined;
  if (!desc || typeof desc !== 'object' || typeof desc.kind !== 'string') {
    throw tmeshError('E_SCHEMA_UNKNOWN_TYPE', `${where} is not a tmesh schema type (got ${describe(value)})`);
  }
  validateDesc(desc, where);
  return desc;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw tmeshError('E_SCHEMA_INVALID', `${what} name must match ${NAME}, got ${JSON.stringify(name)}`);
  }
  return name;
}

function checkTag(tag: unknown, where: string): number {
  if (
    typeof tag !== 'number' ||
    !Number.isInteger(tag) ||
    tag < 1 ||
    tag > MAX_TAG ||
    (tag >= RESERVED_TAGS[0] && tag <= RESERVED_TAGS[1])
  ) {
    throw tmeshError(
      'E_SCHEMA_INVALID',
      `${where}: tag must be an integer in 1..${MAX_TAG} outside 19000..19999, got ${String(tag)}`,
    );
  }
  return tag;
}

/**
 * Check a descriptor built by hand or loaded from JSON: known kinds, valid names, no duplicate field
 * names, tags or variants. Builders call this; codecs may call it on descriptors they receive.
 */
export function validateDesc(desc: TypeDesc, where = 'schema'): void {
  const kind = (desc as { kind: string }).kind;
  if ((SCALAR_KINDS as readonly string[]).includes(kind)) return;
  switch (desc.kind) {
    case 'optional':
      validateDesc(desc.inner, `${where}?`);
      return;
    case 'list':
      validateDesc(desc.item, `${where}[]`);
      return;
    case 'map': {
      validateDesc(desc.key, `${where} map key`);
      validateDesc(desc.value, `${where} map value`);
      if (!isMapKeyKind(desc.key.kind)) {
        throw tmeshError(
          'E_SCHEMA_UNSUPPORTED',
          `${where}: map keys must be an integer, bool or string type, got ${desc.key.kind}`,
        );
      }
      return;
    }
    case 'struct': {
      checkName(desc.name, 'struct');
      const names = new Set<string>();
      const tags = new Set<number>();
      for (const f of desc.fields) {
        checkName(f.name, `field of ${desc.name}`);
        checkTag(f.tag, `${desc.name}.${f.name}`);
        if (names.has(f.name))
          throw tmeshError(
            'E_SCHEMA_DUPLICATE_FIELD',
            `struct ${desc.name} declares field "${f.name}" twice`,
          );
        if (tags.has(f.tag))
          throw tmeshError(
            'E_SCHEMA_DUPLICATE_FIELD',
            `struct ${desc.name} uses tag ${f.tag} twice (field "${f.name}")`,
          );
        names.add(f.name);
        tags.add(f.tag);
        validateDesc(f.type, `${desc.name}.${f.name}`);
      }
      return;
    }
    case 'enum':
    case 'union': {
      checkName(desc.name, desc.kind);
      if (desc.variants.length === 0)
        throw tmeshError('E_SCHEMA_INVALID', `${desc.kind} ${desc.name} has no variants`);
      const names = new Set<string>();
      desc.variants.forEach((v, i) => {
        checkName(v.name, `variant of ${desc.name}`);
        if (names.has(v.name))
          throw tmeshError(
            'E_SCHEMA_DUPLICATE_FIELD',
            `${desc.kind} ${desc.name} declares variant "${v.name}" twice`,
          );
        names.add(v.name);
        if (v.index !== i)
          throw tmeshError(
            'E_SCHEMA_INVALID',
            `${desc.name}.${v.name}: variant index must be ${i} (declaration order), got ${v.index}`,
          );
        checkTag(v.tag, `${desc.name}.${v.name}`);
        if (desc.kind === 'enum' && v.type)
          throw tmeshError('E_SCHEMA_INVALID', `enum ${desc.name}.${v.name} carries data; use t.union`);
        if (v.type) validateDesc(v.type, `${desc.name}.${v.name}`);
      });
      return;
    }
    default:
      throw tmeshError('E_SCHEMA_UNKNOWN_TYPE', `${where}: unknown type kind ${JSON.stringify(kind)}`);
  }
}

/** True for the kinds that may be map keys on every wire (protobuf's rule). */
export function isMapKeyKind(kind: TypeDesc['kind']): boolean {
  return kind === 'string' || kind === 'bool' || /^[ui](8|16|32|64)$/.test(kind);
}

/** Options for {@link t.struct}: protobuf tags for fields that should not take their position. */
export interface StructOptions<F> {
  tags?: Partial<Record<keyof F & string, number>>;
}

/**
 * The schema builder. Each message type is defined once and every wire compiles from it:
 * `const Move = t.struct('Move', { x: t.f64(), label: t.optional(t.string()) })`, and
 * `Infer<typeof Move>` is `{ x: number; label?: string }`.
 */
export const t = {
  bool: () => schemaOf<boolean>({ kind: 'bool' }),
  u8: () => schemaOf<number>({ kind: 'u8' }),
  u16: () => schemaOf<number>({ kind: 'u16' }),
  u32: () => schemaOf<number>({ kind: 'u32' }),
  u64: () => schemaOf<bigint>({ kind: 'u64' }),
  i8: () => schemaOf<number>({ kind: 'i8' }),
  i16: () => schemaOf<number>({ kind: 'i16' }),
  i32: () => schemaOf<number>({ kind: 'i32' }),
  i64: () => schemaOf<bigint>({ kind: 'i64' }),
  f32: () => schemaOf<number>({ kind: 'f32' }),
  f64: () => schemaOf<number>({ kind: 'f64' }),
  string: () => schemaOf<string>({ kind: 'string' }),
  bytes: () => schemaOf<Uint8Array>({ kind: 'bytes' }),

  /** A value that may be absent: Rust `Option<T>`, Swift `T?`, proto3 `optional`. */
  optional<T>(inner: Schema<T>): OptionalSchema<T> {
    const desc = { kind: 'optional' as const, inner: descOf(inner, 'optional(...)') };
    if (desc.inner.kind === 'optional')
      throw tmeshError(
        'E_SCHEMA_UNSUPPORTED',
        'optional(optional(...)) has no mapping on MessagePack or protobuf',
      );
    return Object.freeze({ desc }) as OptionalSchema<T>;
  },

  /** A sequence: Rust `Vec<T>`, Swift `[T]`, protobuf `repeated`. */
  list<S extends Schema<any>>(item: S): Schema<Infer<S>[]> {
    return schemaOf<Infer<S>[]>({ kind: 'list', item: descOf(item, 'list(...)') });
  },

  /** A map: Rust `HashMap<K, V>`/`BTreeMap`, Swift `[K: V]`, protobuf `map<K, V>`. Values are `Map`s. */
  map<KS extends Schema<any>, VS extends Schema<any>>(key: KS, value: VS): Schema<Map<Infer<KS>, Infer<VS>>> {
    const desc: TypeDesc = { kind: 'map', key: descOf(key, 'map key'), value: descOf(value, 'map value') };
    validateDesc(desc, 'map');
    return schemaOf<Map<Infer<KS>, Infer<VS>>>(desc);
  },

  /** A struct: fields in declaration order (bincode order); protobuf tags 1..n unless given. */
  struct<F extends Record<string, Schema<any>>>(
    name: string,
    fields: F,
    options: StructOptions<F> = {},
  ): StructSchema<InferStruct<F>> {
    checkName(name, 'struct');
    if (typeof fields !== 'object' || fields === null)
      throw tmeshError('E_SCHEMA_INVALID', `struct ${name}: fields must be an object`);
    const tags = (options.tags ?? {}) as Record<string, number | undefined>;
    const list: FieldDesc[] = Object.keys(fields).map((fieldName, i) => ({
      name: fieldName,
      tag: Object.hasOwn(tags, fieldName) ? tags[fieldName]! : i + 1,
      type: descOf(fields[fieldName], `${name}.${fieldName}`),
    }));
    for (const key of Object.keys(tags)) {
      if (!(key in fields))
        throw tmeshError('E_SCHEMA_INVALID', `struct ${name}: tag given for unknown field "${key}"`);
    }
    const desc: StructDesc = { kind: 'struct', name, fields: list };
    validateDesc(desc, name);
    return Object.freeze({ desc }) as StructSchema<InferStruct<F>>;
  },

  /** An enum of unit variants, a string at the API: Rust C-like enum, Swift `String` enum, proto enum. */
  enum<const V extends readonly string[]>(name: string, variants: V): Schema<V[number]> {
    checkName(name, 'enum');
    if (!Array.isArray(variants))
      throw tmeshError('E_SCHEMA_INVALID', `enum ${name}: variants must be an array of names`);
    const desc: EnumDesc = {
      kind: 'enum',
      name,
      variants: variants.map((v, i) => ({ name: v, index: i, tag: i + 1, type: undefined })),
    };
    validateDesc(desc, name);
    return schemaOf<V[number]>(desc);
  },

  /**
   * A tagged union, variants with or without data: Rust `enum { A, B(T) }`, Swift enum with associated
   * values, protobuf `oneof`. Values are `{ kind: 'A' }` or `{ kind: 'B', value }`; `null` marks a unit variant.
   */
  union<V extends Record<string, Schema<any> | null>>(name: string, variants: V): Schema<InferUnion<V>> {
    checkName(name, 'union');
    if (typeof variants !== 'object' || variants === null)
      throw tmeshError('E_SCHEMA_INVALID', `union ${name}: variants must be an object`);
    const desc: UnionDesc = {
      kind: 'union',
      name,
      variants: Object.keys(variants).map((v, i) => {
        const s = variants[v];
        return { name: v, index: i, tag: i + 1, type: s === null ? undefined : descOf(s, `${name}.${v}`) };
      }),
    };
    validateDesc(desc, name);
    return schemaOf<InferUnion<V>>(desc);
  },

  /** Wrap an already-validated descriptor (for schemas loaded from .proto or JSON). */
  fromDesc<T = unknown>(desc: TypeDesc): Schema<T> {
    validateDesc(desc);
    return schemaOf<T>(desc);
  },
};

/** Every struct, enum and union reachable from `desc`, each once, dependencies first. */
export function namedTypes(desc: TypeDesc): (StructDesc | EnumDesc | UnionDesc)[] {
  const seen = new Map<string, StructDesc | EnumDesc | UnionDesc>();
  const visit = (d: TypeDesc): void => {
    switch (d.kind) {
      case 'optional':
        visit(d.inner);
        return;
      case 'list':
        visit(d.item);
        return;
      case 'map':
        visit(d.key);
        visit(d.value);
        return;
      case 'struct':
      case 'enum':
      case 'union': {
        const prior = seen.get(d.name);
        if (prior) {
          if (prior !== d && JSON.stringify(prior) !== JSON.stringify(d)) {
            throw tmeshError('E_SCHEMA_DUPLICATE_FIELD', `two different types are both named ${d.name}`);
          }
          return;
        }
        if (d.kind === 'struct') for (const f of d.fields) visit(f.type);
        if (d.kind === 'union') for (const v of d.variants) if (v.type) visit(v.type);
        seen.set(d.name, d);
        return;
      }
      default:
        return;
    }
  };
  visit(desc);
  return [...seen.values()];
}
