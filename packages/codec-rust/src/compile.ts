import type { FieldDesc, PayloadCodec, Schema, TmeshErrorCode, TypeDesc } from '@tmesh/core';
import { GATHER_MIN_BYTES, tmeshError, validateDesc } from '@tmesh/core';
import { acquireWriter, releaseWriter, type SlabWriter } from './writer.js';

/**
 * The bincode 1.x compiler: turns a schema into a JavaScript encoder and decoder specialised for it
 * (one function each, every nested type inlined), so the hot path has no per-field lookups.
 * The format is what Rust `bincode::serialize` writes with bincode 1.3's default config:
 * fixed-width little-endian integers, u64 lengths, Option as a 0/1 tag, enums as a u32 variant index.
 */

/** Encode `value` into `w.buf` starting at `pos`; returns the end position. */
type EncodeFn = (w: SlabWriter, value: unknown, pos: number) => number;
/** Decode one value from `u8[pos .. end)` (views over the whole ArrayBuffer); throws unless it ends at `end`. */
type DecodeFn = (u8: Uint8Array, dv: DataView, pos: number, end: number, copy: boolean) => unknown;

/** A compiled schema: the payload codec plus the raw functions the frame codec calls. */
export interface CompiledBincode<T> extends PayloadCodec<T> {
  /** Write the payload into `w` at `pos` (no framing); returns the end position. */
  readonly encodeInto: (w: SlabWriter, value: T, pos: number) => number;
  /** Decode the payload in `bytes[start .. end)`. */
  readonly decodeRange: (bytes: Uint8Array, start: number, end: number, copy: boolean) => T;
  /** The generated source, for debugging and the docs. */
  readonly source: { encode: string; decode: string };
}

const FIXED: Partial<Record<TypeDesc['kind'], number>> = {
  bool: 1,
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  u64: 8,
  i64: 8,
  f64: 8,
  enum: 4,
};

/** Size in bytes if every value of the type has the same size, else undefined. */
/** From field `start`, the end of the run of fixed-size fields and their total size (one bounds check). */
function fixedRun(fields: readonly FieldDesc[], start: number): { end: number; bytes: number } {
  let end = start;
  let bytes = 0;
  for (; end < fields.length; end++) {
    const size = fixedSize(fields[end]!.type);
    if (size === undefined) break;
    bytes += size;
  }
  return { end, bytes };
}

function fixedSize(desc: TypeDesc): number | undefined {
  const f = FIXED[desc.kind];
  if (f !== undefined) return f;
  if (desc.kind === 'struct') {
    let sum = 0;
    for (const field of desc.fields) {
      const s = fixedSize(field.type);
      if (s === undefined) return undefined;
      sum += s;
    }
    return sum;
  }
  return undefined;
}

/** The fewest bytes a value of the type can take (bounds the element count of a list before allocating). */
function minSize(desc: TypeDesc): number {
  const f = FIXED[desc.kind];
  if (f !== undefined) return f;
  switch (desc.kind) {
    case 'string':
    case 'bytes':
    case 'list':
    case 'map':
      return 8;
    case 'optional':
      return 1;
    case 'union':
      return 4;
    case 'struct':
      return desc.fields.reduce((n, field) => n + minSize(field.type), 0);
    default:
      return 1;
  }
}

/** Most elements accepted for a list or map whose elements take no bytes at all (e.g. empty structs). */
const MAX_ZERO_SIZED_ELEMENTS = 1 << 24;

// ---------------------------------------------------------------------------------------------------
// Helpers the generated code calls on its slow (error) paths and for long or non-ASCII strings.

const textEncoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF, as Rust's String does; fatal rejects invalid UTF-8.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return String(value);
}

function fail(code: TmeshErrorCode, message: string): never {
  throw tmeshError(code, message);
}

const INT_RANGE: Record<string, [number, number]> = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  u32: [0, 0xffffffff],
  i8: [-0x80, 0x7f],
  i16: [-0x8000, 0x7fff],
  i32: [-0x80000000, 0x7fffffff],
};

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;
const nodeLatin1Slice = (globalThis as { Buffer?: { prototype: { latin1Slice?: Latin1Slice } } }).Buffer
  ?.prototype.latin1Slice;

const helpers = {
  /**
   * Bytes below 0x80 as a string: Node's native `latin1Slice` (a flat string, ~2x faster than building
   * it in JavaScript) where it exists, else a loop.
   */
  latin1:
    typeof nodeLatin1Slice === 'function'
      ? (u8: Uint8Array, start: number, end: number): string => nodeLatin1Slice.call(u8, start, end)
      : (u8: Uint8Array, start: number, end: number): string => {
          let s = '';
          for (let i = start; i < end; i++) s += String.fromCharCode(u8[i]!);
          return s;
        },
  /** A value of the wrong kind. */
  invalid(path: string, expected: string, value: unknown): never {
    fail('E_ENCODE_INVALID_VALUE', `bincode encode ${path}: expected ${expected}, got ${show(value)}`);
  },
  /** An int that failed the fast range check: wrong kind (E_ENCODE_INVALID_VALUE) or out of range (E_RANGE). */
  badInt(path: string, kind: string, value: unknown): never {
    if (typeof value !== 'number' || !Number.isInteger(value))
      helpers.invalid(path, `an integer (${kind})`, value);
    const [lo, hi] = INT_RANGE[kind]!;
    fail('E_RANGE', `bincode encode ${path}: ${value} does not fit ${kind} (${lo}..${hi})`);
  },
  badBig(path: string, kind: string, value: unknown): never {
    if (typeof value !== 'bigint') helpers.invalid(path, `a bigint (${kind})`, value);
    fail('E_RANGE', `bincode encode ${path}: ${value} does not fit ${kind}`);
  },
  badVariant(path: string, name: string, value: unknown): never {
    fail('E_ENCODE_INVALID_VALUE', `bincode encode ${path}: ${show(value)} is not a variant of ${name}`);
  },
  /** UTF-8 encode a string that is long or not ASCII; returns the byte count. */
  utf8(path: string, s: string, buf: Uint8Array, at: number): number {
    // A lone surrogate has no UTF-8 form; TextEncoder would silently write U+FFFD.
    if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) {
      fail('E_ENCODE_INVALID_VALUE', `bincode encode ${path}: string holds a lone UTF-16 surrogate`);
    }
    return textEncoder.encodeInto(s, buf.subarray(at)).written;
  },
  tooLong(path: string, n: number): never {
    fail('E_RANGE', `bincode encode ${path}: length ${n} is too large`);
  },
  trunc(path: string, need: number, left: number, at: number): never {
    fail(
      'E_FRAME_TRUNCATED',
      `bincode decode ${path}: needs ${need} bytes at payload offset ${at}, ${left} left`,
    );
  },
  /** A length prefix larger than what is left (checked before anything is allocated). */
  badLen(path: string, lo: number, hi: number, left: number, unit: number): never {
    const n = hi * 0x100000000 + lo;
    if (unit === 0)
      fail(
        'E_DECODE',
        `bincode decode ${path}: ${n} zero-sized elements is more than the ${MAX_ZERO_SIZED_ELEMENTS} accepted`,
      );
    fail(
      'E_FRAME_TRUNCATED',
      `bincode decode ${path}: length ${n}${unit > 1 ? ` (at least ${unit} bytes each)` : ''} exceeds the ${left} bytes left`,
    );
  },
  badBool(path: string, b: number): never {
    fail('E_INVALID_BOOL', `bincode decode ${path}: bool byte is ${b}, must be 0 or 1`);
  },
  badTag(path: string, b: number): never {
    fail('E_INVALID_OPTION_TAG', `bincode decode ${path}: Option tag is ${b}, must be 0 (None) or 1 (Some)`);
  },
  badIndex(path: string, name: string, i: number, n: number): never {
    fail(
      'E_INVALID_ENUM_VARIANT',
      `bincode decode ${path}: variant index ${i} of ${name}, which has ${n} variants`,
    );
  },
  trailing(n: number): never {
    fail('E_TRAILING_BYTES', `bincode decode: ${n} bytes left after the value`);
  },
  /** Decode UTF-8 that is long or not ASCII. */
  str(path: string, u8: Uint8Array, at: number, n: number): string {
    try {
      const view = u8.subarray(at, at + n);
      // TextDecoder refuses views of shared memory; those strings are copied first.
      return textDecoder.decode(view.buffer instanceof SharedArrayBuffer ? view.slice() : view);
    } catch (error) {
      return fail(
        'E_INVALID_UTF8',
        `bincode decode ${path}: ${n} string bytes at payload offset ${at} are not valid UTF-8 (${(error as Error).message})`,
      );
    }
  },
};

// ---------------------------------------------------------------------------------------------------
// Code generation.

class Gen {
  #n = 0;
  readonly consts: unknown[] = [];
  /** A fresh local variable name. */
  id(prefix: string): string {
    return `${prefix}${this.#n++}`;
  }
  /** A constant (array or string) the generated code refers to as `K[i]`. */
  konst(value: unknown): string {
    this.consts.push(value);
    return `K[${this.consts.length - 1}]`;
  }
}

const q = JSON.stringify;

/** `if (pos + n > buf.length) grow`: makes room for n bytes; `n` is an expression. */
function ensure(n: string): string {
  return `if (pos + ${n} > buf.length) { pos = w.grow(pos, ${n}); buf = w.buf; dv = w.dv; }\n`;
}

/** Write a u64 length (a non-negative integer below 2^53) at pos. */
function writeLen(n: string): string {
  return `dv.setUint32(pos, ${n} >>> 0, true); dv.setUint32(pos + 4, (${n} / 4294967296) >>> 0, true); pos += 8;\n`;
}

/** Encoder statements for `v` (an expression with no side effects) of type `desc`. */
function enc(g: Gen, desc: TypeDesc, v: string, path: string, ensured: boolean): string {
  const P = q(path);
  const need = (n: number) => (ensured ? '' : ensure(String(n)));
  switch (desc.kind) {
    case 'bool':
      return `${need(1)}if (${v} === true) buf[pos] = 1; else if (${v} === false) buf[pos] = 0; else H.invalid(${P}, 'a boolean', ${v});\npos += 1;\n`;
    case 'u8':
      return `${need(1)}if ((${v} & 0xff) !== ${v}) H.badInt(${P}, 'u8', ${v});\nbuf[pos] = ${v}; pos += 1;\n`;
    case 'i8':
      return `${need(1)}if (((${v} << 24) >> 24) !== ${v}) H.badInt(${P}, 'i8', ${v});\nbuf[pos] = ${v}; pos += 1;\n`;
    case 'u16':
      return `${need(2)}if ((${v} & 0xffff) !== ${v}) H.badInt(${P}, 'u16', ${v});\ndv.setUint16(pos, ${v}, true); pos += 2;\n`;
    case 'i16':
      return `${need(2)}if (((${v} << 16) >> 16) !== ${v}) H.badInt(${P}, 'i16', ${v});\ndv.setInt16(pos, ${v}, true); pos += 2;\n`;
    case 'u32':
      return `${need(4)}if ((${v} >>> 0) !== ${v}) H.badInt(${P}, 'u32', ${v});\ndv.setUint32(pos, ${v}, true); pos += 4;\n`;
    case 'i32':
      return `${need(4)}if ((${v} | 0) !== ${v}) H.badInt(${P}, 'i32', ${v});\ndv.setInt32(pos, ${v}, true); pos += 4;\n`;
    case 'u64':
      return `${need(8)}if (typeof ${v} !== 'bigint' || ${v} < 0n || ${v} > 0xffffffffffffffffn) H.badBig(${P}, 'u64', ${v});\ndv.setBigUint64(pos, ${v}, true); pos += 8;\n`;
    case 'i64':
      return `${need(8)}if (typeof ${v} !== 'bigint' || ${v} < -0x8000000000000000n || ${v} > 0x7fffffffffffffffn) H.badBig(${P}, 'i64', ${v});\ndv.setBigInt64(pos, ${v}, true); pos += 8;\n`;
    case 'f32':
      return `${need(4)}if (typeof ${v} !== 'number') H.invalid(${P}, 'a number (f32)', ${v});\ndv.setFloat32(pos, ${v}, true); pos += 4;\n`;
    case 'f64':
      return `${need(8)}if (typeof ${v} !== 'number') H.invalid(${P}, 'a number (f64)', ${v});\ndv.setFloat64(pos, ${v}, true); pos += 8;\n`;
    case 'string': {
      const n = g.id('n');
      const i = g.id('i');
      const c = g.id('c');
      // ASCII strings of up to 64 UTF-16 units are copied by a loop; others go through TextEncoder.
      return `if (typeof ${v} !== 'string') H.invalid(${P}, 'a string', ${v});
{ let ${n} = ${v}.length;
if (${n} > 0x15555550) H.tooLong(${P}, ${n});
${ensure(`8 + ${n} * 3`)}let ${i} = 0;
if (${n} <= 64) { for (; ${i} < ${n}; ${i}++) { const ${c} = ${v}.charCodeAt(${i}); if (${c} >= 0x80) break; buf[pos + 8 + ${i}] = ${c}; } }
if (${i} !== ${n}) ${n} = H.utf8(${P}, ${v}, buf, pos + 8);
dv.setUint32(pos, ${n}, true); dv.setUint32(pos + 4, 0, true); pos += 8 + ${n}; }\n`;
    }
    case 'bytes': {
      const n = g.id('n');
      const i = g.id('i');
      // A gather encode leaves big arrays out of the slab: only their length is written, the array
      // itself becomes a part of the frame.
      return `if (!(${v} instanceof Uint8Array)) H.invalid(${P}, 'a Uint8Array', ${v});
{ const ${n} = ${v}.length;
if (${n} >= ${GATHER_MIN_BYTES} && w.gather) { ${ensure('8')}${writeLen(n)}w.refer(${v}, pos); } else {
${ensure(`8 + ${n}`)}${writeLen(n)}if (${n} <= 16) { for (let ${i} = 0; ${i} < ${n}; ${i}++) buf[pos + ${i}] = ${v}[${i}]; } else buf.set(${v}, pos);
pos += ${n}; } }\n`;
    }
    case 'optional': {
      return `${ensure('1')}if (${v} === undefined || ${v} === null) { buf[pos] = 0; pos += 1; } else { buf[pos] = 1; pos += 1;
${enc(g, desc.inner, v, path, false)}}\n`;
    }
    case 'list': {
      const n = g.id('n');
      const i = g.id('i');
      const e = g.id('e');
      const item = fixedSize(desc.item);
      // Items of a fixed size: room for all of them is made once.
      return `if (!Array.isArray(${v})) H.invalid(${P}, 'an array', ${v});
{ const ${n} = ${v}.length;
${ensure(item === undefined ? '8' : `8 + ${n} * ${item}`)}${writeLen(n)}for (let ${i} = 0; ${i} < ${n}; ${i}++) { const ${e} = ${v}[${i}];
${enc(g, desc.item, e, `${path}[]`, item !== undefined)}} }\n`;
    }
    case 'map': {
      const k = g.id('k');
      const x = g.id('x');
      return `if (!(${v} instanceof Map)) H.invalid(${P}, 'a Map', ${v});
${ensure('8')}${writeLen(`${v}.size`)}for (const [${k}, ${x}] of ${v}) {
${enc(g, desc.key, k, `${path} key`, false)}${enc(g, desc.value, x, `${path} value`, false)}}\n`;
    }
    case 'struct': {
      let out = `if (${v} === null || typeof ${v} !== 'object') H.invalid(${P}, 'an object (${desc.name})', ${v});\n`;
      let i = 0;
      const fields = desc.fields;
      while (i < fields.length) {
        // A run of fixed-size fields shares one capacity check.
        const { end: j, bytes: run } = fixedRun(fields, i);
        if (j > i) {
          if (!ensured) out += ensure(String(run));
          for (; i < j; i++) {
            const f = fields[i]!;
            const fv = g.id('f');
            out += `{ const ${fv} = ${v}.${f.name};\n${enc(g, f.type, fv, `${path}.${f.name}`, true)}}\n`;
          }
        } else {
          const f = fields[i]!;
          const fv = g.id('f');
          out += `{ const ${fv} = ${v}.${f.name};\n${enc(g, f.type, fv, `${path}.${f.name}`, false)}}\n`;
          i++;
        }
      }
      return out;
    }
    case 'enum': {
      const cases = desc.variants
        .map((variant) => `case ${q(variant.name)}: dv.setUint32(pos, ${variant.index}, true); break;`)
        .join('\n');
      return `${need(4)}switch (${v}) {\n${cases}\ndefault: H.badVariant(${P}, ${q(desc.name)}, ${v});\n}\npos += 4;\n`;
    }
    case 'union': {
      const cases = desc.variants.map((variant) => {
        const head = `case ${q(variant.name)}: ${ensure('4')}dv.setUint32(pos, ${variant.index}, true); pos += 4;`;
        if (!variant.type) return `${head} break;`;
        const x = g.id('x');
        return `${head} { const ${x} = ${v}.value;\n${enc(g, variant.type, x, `${path}.${variant.name}`, false)}} break;`;
      });
      return `if (${v} === null || typeof ${v} !== 'object') H.invalid(${P}, 'an object { kind, value } (${desc.name})', ${v});
switch (${v}.kind) {\n${cases.join('\n')}\ndefault: H.badVariant(${P}, ${q(desc.name)}, ${v}.kind);\n}\n`;
    }
    default:
      throw tmeshError(
        'E_SCHEMA_UNKNOWN_TYPE',
        `bincode: cannot encode type kind ${q((desc as { kind: string }).kind)}`,
      );
  }
}

/** `if (end - pos < n) truncated`. */
function need(n: string, path: string): string {
  return `if (end - pos < ${n}) H.trunc(${q(path)}, ${n}, end - pos, pos - base);\n`;
}

/** Read a u64 length into `n` and check it against the bytes left (`unit` = fewest bytes per element). */
function readLen(g: Gen, n: string, path: string, unit: number, checked: boolean): string {
  const hi = g.id('hi');
  const limit =
    unit === 0 ? String(MAX_ZERO_SIZED_ELEMENTS) : unit === 1 ? 'end - pos' : `(end - pos) / ${unit}`;
  return `${checked ? '' : need('8', path)}const ${n} = dv.getUint32(pos, true), ${hi} = dv.getUint32(pos + 4, true); pos += 8;
if (${hi} !== 0 || ${n} > ${limit}) H.badLen(${q(path)}, ${n}, ${hi}, end - pos, ${unit});\n`;
}

/** Decoder statements that assign the value of type `desc` to the (declared) variable `out`. */
function dec(g: Gen, desc: TypeDesc, out: string, path: string, checked: boolean): string {
  const P = q(path);
  const chk = (n: number) => (checked ? '' : need(String(n), path));
  switch (desc.kind) {
    case 'bool': {
      const b = g.id('b');
      return `${chk(1)}{ const ${b} = u8[pos]; if (${b} > 1) H.badBool(${P}, ${b}); ${out} = ${b} === 1; pos += 1; }\n`;
    }
    case 'u8':
      return `${chk(1)}${out} = u8[pos]; pos += 1;\n`;
    case 'i8':
      return `${chk(1)}${out} = (u8[pos] << 24) >> 24; pos += 1;\n`;
    case 'u16':
      return `${chk(2)}${out} = dv.getUint16(pos, true); pos += 2;\n`;
    case 'i16':
      return `${chk(2)}${out} = dv.getInt16(pos, true); pos += 2;\n`;
    case 'u32':
      return `${chk(4)}${out} = dv.getUint32(pos, true); pos += 4;\n`;
    case 'i32':
      return `${chk(4)}${out} = dv.getInt32(pos, true); pos += 4;\n`;
    case 'u64':
      return `${chk(8)}${out} = dv.getBigUint64(pos, true); pos += 8;\n`;
    case 'i64':
      return `${chk(8)}${out} = dv.getBigInt64(pos, true); pos += 8;\n`;
    case 'f32':
      return `${chk(4)}${out} = dv.getFloat32(pos, true); pos += 4;\n`;
    case 'f64':
      return `${chk(8)}${out} = dv.getFloat64(pos, true); pos += 8;\n`;
    case 'string': {
      const n = g.id('n');
      const i = g.id('i');
      // Short ASCII strings are checked by a loop and sliced as Latin-1 (ASCII is valid UTF-8 as is);
      // the rest go through the fatal TextDecoder.
      return `{ ${readLen(g, n, path, 1, checked)}let ${i} = 0;
if (${n} <= 32) { for (; ${i} < ${n}; ${i}++) { if (u8[pos + ${i}] >= 0x80) break; } }
${out} = ${i} === ${n} ? latin1(u8, pos, pos + ${n}) : H.str(${P}, u8, pos, ${n}); pos += ${n}; }\n`;
    }
    case 'bytes': {
      const n = g.id('n');
      return `{ ${readLen(g, n, path, 1, checked)}${out} = copy ? u8.slice(pos, pos + ${n}) : u8.subarray(pos, pos + ${n}); pos += ${n}; }\n`;
    }
    case 'optional': {
      const b = g.id('b');
      return `${chk(1)}{ const ${b} = u8[pos]; pos += 1;
if (${b} === 0) ${out} = undefined; else if (${b} === 1) {
${dec(g, desc.inner, out, path, false)}} else H.badTag(${P}, ${b}); }\n`;
    }
    case 'list': {
      const n = g.id('n');
      const a = g.id('a');
      const i = g.id('i');
      const e = g.id('e');
      const item = fixedSize(desc.item);
      const unit = minSize(desc.item);
      // With fixed-size items the length check already proved every item is there.
      return `{ ${readLen(g, n, path, unit, checked)}const ${a} = [];
for (let ${i} = 0; ${i} < ${n}; ${i}++) { let ${e};
${dec(g, desc.item, e, `${path}[]`, item !== undefined)}${a}.push(${e}); }
${out} = ${a}; }\n`;
    }
    case 'map': {
      const n = g.id('n');
      const m = g.id('m');
      const i = g.id('i');
      const k = g.id('k');
      const x = g.id('x');
      const unit = minSize(desc.key) + minSize(desc.value);
      return `{ ${readLen(g, n, path, unit, checked)}const ${m} = new Map();
for (let ${i} = 0; ${i} < ${n}; ${i}++) { let ${k}, ${x};
${dec(g, desc.key, k, `${path} key`, false)}${dec(g, desc.value, x, `${path} value`, false)}${m}.set(${k}, ${x}); }
${out} = ${m}; }\n`;
    }
    case 'struct': {
      const names = desc.fields.map(() => g.id('f'));
      let code = `{ let ${names.join(', ')};\n`;
      if (names.length === 0) code = '{\n';
      let i = 0;
      const fields = desc.fields;
      while (i < fields.length) {
        const { end: j, bytes: run } = fixedRun(fields, i);
        if (j > i) {
          if (!checked) code += need(String(run), `${path}.${fields[i]!.name}`);
          for (; i < j; i++) code += dec(g, fields[i]!.type, names[i]!, `${path}.${fields[i]!.name}`, true);
        } else {
          code += dec(g, fields[i]!.type, names[i]!, `${path}.${fields[i]!.name}`, false);
          i++;
        }
      }
      // A computed key keeps a field named __proto__ an own property instead of setting the prototype.
      const literal = fields
        .map((f, k) => `${f.name === '__proto__' ? '["__proto__"]' : f.name}: ${names[k]}`)
        .join(', ');
      return `${code}${out} = { ${literal} }; }\n`;
    }
    case 'enum': {
      const ix = g.id('ix');
      const table = g.konst(desc.variants.map((variant) => variant.name));
      return `${chk(4)}{ const ${ix} = dv.getUint32(pos, true); pos += 4;
if (${ix} >= ${desc.variants.length}) H.badIndex(${P}, ${q(desc.name)}, ${ix}, ${desc.variants.length});
${out} = ${table}[${ix}]; }\n`;
    }
    case 'union': {
      const ix = g.id('ix');
      const cases = desc.variants.map((variant) => {
        if (!variant.type) return `case ${variant.index}: ${out} = { kind: ${q(variant.name)} }; break;`;
        const x = g.id('x');
        return `case ${variant.index}: { let ${x};\n${dec(g, variant.type, x, `${path}.${variant.name}`, false)}${out} = { kind: ${q(variant.name)}, value: ${x} }; } break;`;
      });
      return `${chk(4)}{ const ${ix} = dv.getUint32(pos, true); pos += 4;
switch (${ix}) {\n${cases.join('\n')}\ndefault: H.badIndex(${P}, ${q(desc.name)}, ${ix}, ${desc.variants.length});\n} }\n`;
    }
    default:
      throw tmeshError(
        'E_SCHEMA_UNKNOWN_TYPE',
        `bincode: cannot decode type kind ${q((desc as { kind: string }).kind)}`,
      );
  }
}

function build<F>(body: string, consts: unknown[]): F {
  const factory = new Function('H', 'K', body) as (h: typeof helpers, k: unknown[]) => F;
  return factory(helpers, consts);
}

/** Views over a whole ArrayBuffer, cached for the last buffer seen (frames of one chunk share it). */
let lastBuffer: ArrayBufferLike | undefined;
let lastU8: Uint8Array = new Uint8Array(0);
let lastDv: DataView = new DataView(lastU8.buffer);

function compileDesc<T>(desc: TypeDesc): CompiledBincode<T> {
  validateDesc(desc);
  const name =
    desc.kind === 'struct' || desc.kind === 'enum' || desc.kind === 'union' ? desc.name : desc.kind;
  const eg = new Gen();
  const encBody = enc(eg, desc, 'v', name, false);
  const encodeSource = `return function encode_${name}(w, v, pos) {\nlet buf = w.buf, dv = w.dv;\n${encBody}return pos;\n};`;
  const dg = new Gen();
  const decBody = dec(dg, desc, 'r', name, false);
  const decodeSource = `const latin1 = H.latin1;\nreturn function decode_${name}(u8, dv, pos, end, copy) {\nconst base = pos; let r;\n${decBody}if (pos !== end) H.trailing(end - pos);\nreturn r;\n};`;
  const encodeInto = build<EncodeFn>(encodeSource, eg.consts) as CompiledBincode<T>['encodeInto'];
  const decodeFn = build<DecodeFn>(decodeSource, dg.consts);

  const decodeRange = (bytes: Uint8Array, start: number, end: number, copy: boolean): T => {
    const buffer = bytes.buffer;
    if (buffer !== lastBuffer || lastU8.length !== buffer.byteLength) {
      lastBuffer = buffer;
      lastU8 = new Uint8Array(buffer);
      lastDv = new DataView(buffer);
    }
    const offset = bytes.byteOffset;
    return decodeFn(lastU8, lastDv, offset + start, offset + end, copy) as T;
  };

  return {
    encodeInto,
    decodeRange,
    source: { encode: encodeSource, decode: decodeSource },
    encode(value: T): Uint8Array {
      const w = acquireWriter();
      try {
        return w.take(encodeInto(w, value, w.start));
      } finally {
        releaseWriter(w);
      }
    },
    decode(bytes: Uint8Array, options?: { copy?: boolean }): T {
      if (!(bytes instanceof Uint8Array)) {
        throw tmeshError('E_INVALID_ARGUMENT', `bincode decode: expected a Uint8Array, got ${show(bytes)}`);
      }
      return decodeRange(bytes, 0, bytes.length, options?.copy === true);
    },
  };
}

const cache = new WeakMap<TypeDesc, CompiledBincode<any>>();

/** The compiled bincode codec of a descriptor, compiled once and cached. */
export function compileDescRust<T>(desc: TypeDesc): CompiledBincode<T> {
  let compiled = cache.get(desc);
  if (!compiled) {
    compiled = compileDesc<T>(desc);
    cache.set(desc, compiled);
  }
  return compiled;
}

/**
 * Compile a schema into a bincode 1.x payload codec (what Rust `bincode::serialize` writes and
 * `bincode::deserialize` reads), cached per schema. Bytes fields decode as views unless `copy` is set.
 */
export function compileRust<T>(schema: Schema<T>): PayloadCodec<T> {
  if (!schema || typeof schema !== 'object' || !schema.desc) {
    throw tmeshError('E_SCHEMA_UNKNOWN_TYPE', `compileRust: expected a tmesh schema, got ${show(schema)}`);
  }
  return compileDescRust<T>(schema.desc);
}
