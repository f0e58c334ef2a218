import {
  type EnumDesc,
  isTmeshError,
  namedTypes,
  type PayloadCodec,
  type Schema,
  type StructDesc,
  type TypeDesc,
  tmeshError,
  type UnionDesc,
  validateDesc,
} from '@tmesh/core';
import protobuf from 'protobufjs';
import { BigintWriter, NO_ROOM, StrictReader } from './pb-io.js';
import { checkProtoMappable, toProtoSource, unitMessageName } from './proto-source.js';

type Enc = (x: any) => any;
type Dec = (x: any, copy: boolean) => any;

/** An encoder plus whether it returns its input unchanged (scalars: it only checks). */
interface EncFn {
  fn: Enc;
  identity: boolean;
}
interface DecFn {
  fn: Dec;
  identity: boolean;
}

const RANGES: Record<string, [number, number]> = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  u32: [0, 0xffffffff],
  i8: [-0x80, 0x7f],
  i16: [-0x8000, 0x7fff],
  i32: [-0x80000000, 0x7fffffff],
};
const U64_MAX = 0xffffffffffffffffn;
const I64_MIN = -0x8000000000000000n;
const I64_MAX = 0x7fffffffffffffffn;

function show(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return String(value);
}

function invalid(where: string, expected: string, value: unknown): never {
  throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: expected ${expected}, got ${show(value)}`);
}

function outOfRange(where: string, kind: string, value: unknown): never {
  throw tmeshError('E_RANGE', `${where}: ${show(value)} does not fit ${kind}`);
}

/** Check one scalar value against its kind; the encoder passes the value itself on to protobufjs. */
function scalarCheck(kind: string, where: string): Enc {
  const range = RANGES[kind];
  if (range) {
    const [lo, hi] = range;
    return (x) => {
      if (typeof x !== 'number' || !Number.isInteger(x)) {
        if (typeof x === 'number' && !Number.isNaN(x) && (x < lo || x > hi)) outOfRange(where, kind, x);
        invalid(where, `an integer (${kind})`, x);
      }
      if (x < lo || x > hi) outOfRange(where, kind, x);
      return x;
    };
  }
  switch (kind) {
    case 'bool':
      return (x) => (typeof x === 'boolean' ? x : invalid(where, 'a boolean', x));
    case 'u64':
      return (x) => {
        if (typeof x !== 'bigint') invalid(where, 'a bigint (u64)', x);
        if (x < 0n || x > U64_MAX) outOfRange(where, 'u64', x);
        return x;
      };
    case 'i64':
      return (x) => {
        if (typeof x !== 'bigint') invalid(where, 'a bigint (i64)', x);
        if (x < I64_MIN || x > I64_MAX) outOfRange(where, 'i64', x);
        return x;
      };
    case 'f32':
    case 'f64':
      return (x) => (typeof x === 'number' ? x : invalid(where, `a number (${kind})`, x));
    case 'string':
      return (x) => {
        if (typeof x !== 'string') invalid(where, 'a string', x);
        if (!(x as unknown as { isWellFormed(): boolean }).isWellFormed())
          invalid(where, 'a well-formed string (lone surrogate)', x);
        return x;
      };
    case 'bytes':
      return (x) => (x instanceof Uint8Array ? x : invalid(where, 'a Uint8Array', x));
    default:
      throw tmeshError('E_INTERNAL', `${where}: no scalar check for kind ${kind}`);
  }
}

function isScalar(kind: string): boolean {
  return (
    kind !== 'optional' &&
    kind !== 'list' &&
    kind !== 'map' &&
    kind !== 'struct' &&
    kind !== 'enum' &&
    kind !== 'union'
  );
}

/** Everything built for one top-level schema: its protobufjs Root and the converters around it. */
class Builder {
  readonly root: protobuf.Root;
  readonly pkg = 'tmesh';
  readonly unit: string;
  readonly #enc = new Map<string, Enc>();
  readonly #dec = new Map<string, Dec>();

  constructor(readonly top: StructDesc | UnionDesc) {
    const source = toProtoSource([top], { package: this.pkg });
    this.unit = unitMessageName(namedTypes(top));
    try {
      this.root = protobuf.parse(source, { keepCase: true }).root;
      this.root.resolveAll();
    } catch (cause) {
      throw tmeshError(
        'E_SCHEMA_UNSUPPORTED',
        `${top.name}: protobufjs refused the generated .proto: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  type(name: string): protobuf.Type {
    return this.root.lookupType(`${this.pkg}.${name}`);
  }

  // ---- encoders: API value -> protobufjs message object (checked, defaults left out) ----

  encoder(d: TypeDesc, where: string): EncFn {
    if (isScalar(d.kind)) return { fn: scalarCheck(d.kind, where), identity: true };
    switch (d.kind) {
      case 'enum':
        return { fn: this.enumEncoder(d, where), identity: false };
      case 'struct':
        return { fn: this.structEncoder(d), identity: false };
      case 'union':
        return { fn: this.unionEncoder(d), identity: false };
      case 'list': {
        const item = this.encoder(d.item, `${where}[]`);
        const f = item.fn;
        if (item.identity) {
          return {
            fn: (x) => {
              if (!Array.isArray(x)) invalid(where, 'an array', x);
              for (let i = 0; i < x.length; i++) f(x[i]);
              return x;
            },
            identity: false,
          };
        }
        return {
          fn: (x) => {
            if (!Array.isArray(x)) invalid(where, 'an array', x);
            const out = new Array(x.length);
            for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
            return out;
          },
          identity: false,
        };
      }
      case 'map': {
        const key = this.mapKeyEncoder(d.key, `${where} key`);
        const value = this.encoder(d.value, `${where} value`).fn;
        return {
          fn: (x) => {
            if (!(x instanceof Map)) invalid(where, 'a Map', x);
            const out: Record<string, unknown> = Object.create(null);
            for (const [k, v] of x) out[key(k)] = value(v);
            return out;
          },
          identity: false,
        };
      }
      default:
        throw tmeshError(
          'E_SCHEMA_UNSUPPORTED',
          `${where}: ${d.kind} cannot appear here on the universal wire`,
        );
    }
  }

  /** protobufjs keys map objects by string: bool keys as "true"/"false", integers in decimal. */
  mapKeyEncoder(d: TypeDesc, where: string): (k: unknown) => string {
    const check = scalarCheck(d.kind, where);
    if (d.kind === 'string') return (k) => check(k);
    return (k) => String(check(k));
  }

  enumEncoder(d: EnumDesc, where: string): Enc {
    const index = new Map(d.variants.map((v) => [v.name, v.index]));
    const names = d.variants.map((v) => v.name).join(', ');
    return (x) => {
      const i = index.get(x);
      if (i === undefined) invalid(where, `a variant of ${d.name} (${names})`, x);
      return i;
    };
  }

  structEncoder(d: StructDesc): Enc {
    const hit = this.#enc.get(d.name);
    if (hit) return hit;
    // Placeholder first: the schema graph is acyclic, but the same struct may be reached twice.
    let compiled: Enc | undefined;
    const lazy: Enc = (x) => compiled!(x);
    this.#enc.set(d.name, lazy);
    const fns: Enc[] = [];
    const lines: string[] = [
      'return function encode(v) {',
      `  if (typeof v !== "object" || v === null) I(v);`,
      '  var o = {}, x;',
    ];
    d.fields.forEach((f, i) => {
      if (f.name === '__proto__')
        throw tmeshError('E_SCHEMA_UNSUPPORTED', `${d.name}: a field named __proto__`);
      const where = `${d.name}.${f.name}`;
      const optional = f.type.kind === 'optional';
      const t = f.type.kind === 'optional' ? f.type.inner : f.type;
      const enc = this.encoder(t, where);
      fns.push(enc.fn);
      const key = JSON.stringify(f.name);
      const conv = `F[${i}](x)`;
      lines.push(`  x = v[${key}];`);
      if (optional) {
        lines.push(`  if (x !== undefined && x !== null) o[${key}] = ${conv};`);
        return;
      }
      // proto3 leaves default values out; checking first keeps bad values from hiding as defaults.
      switch (t.kind) {
        case 'bool':
          lines.push(`  if (F[${i}](x)) o[${key}] = true;`);
          break;
        case 'u64':
        case 'i64':
          lines.push(`  if (F[${i}](x) !== 0n) o[${key}] = x;`);
          break;
        case 'f32':
        case 'f64':
          // -0 is written (it is not the default bit pattern), +0 is not.
          lines.push(`  if (F[${i}](x) !== 0 || 1 / x < 0) o[${key}] = x;`);
          break;
        case 'string':
          lines.push(`  if (F[${i}](x) !== "") o[${key}] = x;`);
          break;
        case 'bytes':
          lines.push(`  if (F[${i}](x).length !== 0) o[${key}] = x;`);
          break;
        case 'enum':
          lines.push(`  if ((x = F[${i}](x)) !== 0) o[${key}] = x;`);
          break;
        case 'list':
          lines.push(`  if ((x = F[${i}](x)).length !== 0) o[${key}] = x;`);
          break;
        case 'map':
          lines.push(`  x = F[${i}](x); for (var k in x) { o[${key}] = x; break; }`);
          break;
        case 'struct':
        case 'union':
          lines.push(`  o[${key}] = F[${i}](x);`);
          break;
        default:
          // 8..32-bit integers
          lines.push(`  if (F[${i}](x) !== 0) o[${key}] = x;`);
      }
    });
    lines.push('  return o;', '};');
    const bad = (v: unknown) => invalid(d.name, `an object (struct ${d.name})`, v);
    compiled = new Function('F', 'I', lines.join('\n'))(fns, bad) as Enc;
    this.#enc.set(d.name, compiled);
    return compiled;
  }

  unionEncoder(d: UnionDesc): Enc {
    const hit = this.#enc.get(d.name);
    if (hit) return hit;
    const variants = new Map<string, Enc>();
    for (const v of d.variants) {
      const name = v.name;
      if (!v.type) {
        variants.set(name, () => ({ [name]: {} }));
        continue;
      }
      const inner = this.encoder(v.type, `${d.name}.${name}`).fn;
      variants.set(name, (x) => {
        const out: Record<string, unknown> = {};
        out[name] = inner(x.value);
        return out;
      });
    }
    const names = d.variants.map((v) => v.name).join(', ');
    const enc: Enc = (x) => {
      if (typeof x !== 'object' || x === null) invalid(d.name, `a { kind, value } of union ${d.name}`, x);
      const variant = variants.get(x.kind);
      if (!variant) invalid(d.name, `kind one of ${names}`, x.kind);
      return variant(x);
    };
    this.#enc.set(d.name, enc);
    return enc;
  }

  // ---- decoders: protobufjs message object -> API value (ranges, enums and presence checked) ----

  decoder(d: TypeDesc, where: string): DecFn {
    const range = RANGES[d.kind];
    if (range && (d.kind === 'u8' || d.kind === 'u16' || d.kind === 'i8' || d.kind === 'i16')) {
      const [lo, hi] = range;
      return {
        fn: (x) => {
          if (x < lo || x > hi) throw tmeshError('E_RANGE', `${where}: decoded ${x} does not fit ${d.kind}`);
          return x;
        },
        identity: false,
      };
    }
    switch (d.kind) {
      case 'u64':
      case 'i64':
        // Absent fields read the prototype's default (a protobufjs Long zero).
        return { fn: (x) => (typeof x === 'bigint' ? x : 0n), identity: false };
      case 'bytes':
        return {
          fn: (x, copy) => (x.length === 0 ? new Uint8Array(0) : copy ? x.slice() : x),
          identity: false,
        };
      case 'enum': {
        const names = d.variants.map((v) => v.name);
        return {
          fn: (x) => {
            const name = names[x];
            if (name === undefined)
              throw tmeshError('E_INVALID_ENUM_VARIANT', `${where}: ${x} is not a variant of ${d.name}`);
            return name;
          },
          identity: false,
        };
      }
      case 'struct': {
        const dec = this.structDecoder(d);
        return {
          fn: (x, copy) => {
            if (x == null)
              throw tmeshError('E_MISSING_FIELD', `${where}: required message ${d.name} is absent`);
            return dec(x, copy);
          },
          identity: false,
        };
      }
      case 'union': {
        const dec = this.unionDecoder(d);
        return {
          fn: (x, copy) => {
            if (x == null)
              throw tmeshError('E_MISSING_FIELD', `${where}: required union ${d.name} is absent`);
            return dec(x, copy);
          },
          identity: false,
        };
      }
      case 'list': {
        const item = this.decoder(d.item, `${where}[]`);
        const f = item.fn;
        // Decoded lists are fresh arrays; an absent one is protobufjs' shared frozen empty array.
        if (item.identity) return { fn: (x) => (x.length === 0 ? [] : x), identity: false };
        return {
          fn: (x, copy) => {
            const n = x.length;
            const out = new Array(n);
            for (let i = 0; i < n; i++) out[i] = f(x[i], copy);
            return out;
          },
          identity: false,
        };
      }
      case 'map': {
        const key = this.mapKeyDecoder(d.key, `${where} key`);
        let value = this.decoder(d.value, `${where} value`).fn;
        if (d.value.kind === 'struct') {
          // A map entry may leave out a default (empty) message value, as prost writes it.
          const ctor = this.type(d.value.name).ctor;
          const inner = value;
          value = (x, copy) => inner(x ?? new ctor(), copy);
        }
        return {
          fn: (x, copy) => {
            const out = new Map();
            for (const k of Object.keys(x)) out.set(key(k), value(x[k], copy));
            return out;
          },
          identity: false,
        };
      }
      default:
        // bool, u32, i32, f32, f64, string: protobufjs (with StrictReader) already gives the API value.
        return { fn: (x) => x, identity: true };
    }
  }

  mapKeyDecoder(d: TypeDesc, where: string): (k: string) => unknown {
    switch (d.kind) {
      case 'string':
        return (k) => k;
      case 'bool':
        return (k) => k === 'true';
      case 'u64':
        return (k) => BigInt.asUintN(64, BigInt(k));
      case 'i64':
        return (k) => BigInt.asIntN(64, BigInt(k));
      default: {
        const [lo, hi] = RANGES[d.kind]!;
        return (k) => {
          const n = Number(k);
          if (n < lo || n > hi) throw tmeshError('E_RANGE', `${where}: decoded ${k} does not fit ${d.kind}`);
          return n;
        };
      }
    }
  }

  structDecoder(d: StructDesc): Dec {
    const hit = this.#dec.get(d.name);
    if (hit) return hit;
    let compiled: Dec | undefined;
    this.#dec.set(d.name, (x, copy) => compiled!(x, copy));
    const fns: Dec[] = [];
    const required: string[] = [];
    const optional: string[] = [];
    d.fields.forEach((f, i) => {
      const key = JSON.stringify(f.name);
      const t = f.type.kind === 'optional' ? f.type.inner : f.type;
      const dec = this.decoder(t, `${d.name}.${f.name}`);
      fns.push(dec.fn);
      if (f.type.kind === 'optional') {
        // Explicit presence: protobufjs leaves an absent optional at its prototype's null.
        // (an absent optional u64 still reads a Long zero through the prototype, so test own-ness).
        optional.push(
          `  if (H.call(m, ${key}) && (x = m[${key}]) != null) o[${key}] = ${dec.identity ? 'x' : `F[${i}](x, c)`};`,
        );
      } else {
        required.push(`    ${key}: ${dec.identity ? `m[${key}]` : `F[${i}](m[${key}], c)`},`);
      }
    });
    const body = [
      'return function decode(m, c) {',
      '  var x;',
      '  var o = {',
      ...required,
      '  };',
      ...optional,
      '  return o;',
      '};',
    ];
    compiled = new Function('F', 'H', body.join('\n'))(fns, Object.prototype.hasOwnProperty) as Dec;
    this.#dec.set(d.name, compiled);
    return compiled;
  }

  unionDecoder(d: UnionDesc): Dec {
    const hit = this.#dec.get(d.name);
    if (hit) return hit;
    const variants = d.variants.map((v) => ({
      name: v.name,
      dec: v.type ? this.decoder(v.type, `${d.name}.${v.name}`).fn : undefined,
    }));
    const own = Object.prototype.hasOwnProperty;
    const dec: Dec = (x, copy) => {
      for (const v of variants) {
        // Scalar members have a non-null default on the prototype: only an own value is set.
        if (!own.call(x, v.name)) continue;
        const value = x[v.name];
        if (value != null) return v.dec ? { kind: v.name, value: v.dec(value, copy) } : { kind: v.name };
      }
      throw tmeshError(
        'E_MISSING_FIELD',
        `union ${d.name}: no variant set (absent or not declared by this schema)`,
      );
    };
    this.#dec.set(d.name, dec);
    return dec;
  }
}

/** Map anything protobufjs throws while reading to a TmeshError with a specific code. */
export function decodeError(cause: unknown, where: string): Error {
  if (isTmeshError(cause)) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/index out of range/.test(message)) {
    return tmeshError(
      'E_FRAME_TRUNCATED',
      `${where}: a field runs past the end of the payload (${message})`,
      { cause },
    );
  }
  if (/invalid varint encoding/.test(message)) {
    return tmeshError('E_VARINT_OVERFLOW', `${where}: a varint is longer than 10 bytes`, { cause });
  }
  if (cause instanceof TypeError || cause instanceof ReferenceError) {
    // Not something bad input should reach: report it as the bug it is.
    return tmeshError('E_INTERNAL', `${where}: ${message}`, { cause });
  }
  return tmeshError('E_DECODE', `${where}: malformed protobuf (${message})`, { cause });
}

/** The shared, growing writer every universal encoder writes into (encoding is synchronous). */
export const sharedWriter = new BigintWriter();

/** Writers keep their buffer between messages, up to this size. */
export const WRITER_KEEP_BYTES = 8 * 1024 * 1024;

/** A compiled payload codec, with the hooks the frame codec uses to avoid copies. */
export class UniversalPayloadCodec<T> implements PayloadCodec<T> {
  /** The protobufjs Type generated from the schema. */
  readonly type: protobuf.Type;
  readonly #toPb: Enc;
  readonly #fromPb: Dec;
  readonly #name: string;

  constructor(desc: StructDesc | UnionDesc) {
    const b = new Builder(desc);
    this.type = b.type(desc.name);
    this.#name = desc.name;
    this.#toPb = desc.kind === 'struct' ? b.structEncoder(desc) : b.unionEncoder(desc);
    const inner = desc.kind === 'struct' ? b.structDecoder(desc) : b.unionDecoder(desc);
    this.#fromPb = inner;
    this.type.setup();
  }

  /** Append the encoded value to `writer` (no framing). */
  writeTo(value: T, writer: BigintWriter): void {
    const message = this.#toPb(value);
    try {
      this.type.encode(message, writer);
    } catch (cause) {
      // (NO_ROOM: a bound writer ran out of room; its caller handles it.)
      if (isTmeshError(cause) || cause === NO_ROOM) throw cause;
      throw tmeshError(
        'E_ENCODE_INVALID_VALUE',
        `${this.#name}: protobufjs could not encode the value: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  /** Encode a value to fresh bytes (no framing). */
  encode(value: T): Uint8Array {
    const w = sharedWriter.restart();
    try {
      this.writeTo(value, w);
      const written = w.written();
      // (The writer's buffer is a Buffer, whose slice() is a view: copy out explicitly.)
      const out = Buffer.allocUnsafe(written.length);
      out.set(written);
      return out;
    } finally {
      w.shrink(WRITER_KEEP_BYTES);
    }
  }

  /** Decode exactly the bytes given; bytes fields are views into them unless `copy`. */
  decode(bytes: Uint8Array, options?: { copy?: boolean }): T {
    if (!(bytes instanceof Uint8Array))
      throw tmeshError('E_INVALID_ARGUMENT', `${this.#name}: decode needs a Uint8Array`);
    return this.decodeRange(bytes, 0, bytes.length, options?.copy === true);
  }

  /**
   * Decode the payload at `bytes[start, end)` in place (no view of the range is made). Bytes fields are
   * views into `bytes` unless `copy`: they stay valid, and share memory with it, as long as the caller
   * keeps `bytes` unchanged.
   */
  decodeRange(bytes: Uint8Array, start: number, end: number, copy: boolean): T {
    // One reader for every decode: decoding runs no caller code, so it cannot be re-entered.
    const reader = sharedReader.at(bytes, start, end);
    let message: unknown;
    try {
      message = this.type.decode(reader);
    } catch (cause) {
      throw decodeError(cause, `${this.#name} payload`);
    } finally {
      reader.at(EMPTY, 0, 0); // do not keep the frame alive
    }
    try {
      return this.#fromPb(message, copy) as T;
    } catch (cause) {
      throw decodeError(cause, `${this.#name} payload`);
    }
  }
}

const EMPTY = new Uint8Array(0);
const sharedReader = new StrictReader(EMPTY);

const cache = new WeakMap<TypeDesc, UniversalPayloadCodec<any>>();

/**
 * Compile the universal (protobuf) payload codec of a struct or union schema, once per schema: a
 * protobufjs Type generated from the schema's .proto equivalent, with generated converters that check
 * values and turn 64-bit fields into bigint, enums into names and unions into `{ kind, value }`.
 */
export function compileUniversal<T>(schema: Schema<T>): UniversalPayloadCodec<T> {
  const desc = schema?.desc;
  if (!desc || typeof desc !== 'object')
    throw tmeshError('E_SCHEMA_UNKNOWN_TYPE', 'compileUniversal: not a tmesh schema');
  const hit = cache.get(desc);
  if (hit) return hit as UniversalPayloadCodec<T>;
  validateDesc(desc, 'compileUniversal');
  checkProtoMappable(desc, 'compileUniversal');
  const codec = new UniversalPayloadCodec<T>(desc as StructDesc | UnionDesc);
  cache.set(desc, codec);
  return codec;
}
