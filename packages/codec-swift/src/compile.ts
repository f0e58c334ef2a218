// Schema compiler for the Swift wire: turns one TypeDesc into a generated JavaScript encoder and decoder
// (one function per struct, enum, union, list and map), so the hot path does no per-field reflection.
import type { PayloadCodec, Schema, TypeDesc } from '@tmesh/core';
import { tmeshError } from '@tmesh/core';
import { check, encodeStr, NO_ROOM, Reader, Writer } from './msgpack.js';

/** The key Swift writes for the associated value of an enum case (`case delete(Delete)` -> `_0`). */
export const ASSOCIATED_VALUE_KEY = '_0';

/** A compiled payload codec, plus the frame-level entry point the wire codec uses. */
export interface SwiftPayloadCodec<T> extends PayloadCodec<T> {
  /**
   * Encode `value` after `reserve` leading bytes (not initialized: the caller writes its header there) and return exactly
   * `reserve + payload` bytes, a region of the shared output slab that is never written again.
   */
  encodeWithReserve(value: T, reserve: number): Uint8Array;
  /**
   * `encodeWithReserve` for a gather write: bin values of at least `GATHER_MIN_BYTES` are left out of
   * the slab region `head` and listed in `refs` as pairs (offset into `head`, the caller's array).
   */
  encodeGather(value: T, reserve: number): { head: Uint8Array; refs: (number | Uint8Array)[] };
  /**
   * `encodeWithReserve` into the caller's `buf` from `at` on (`reserve` blank bytes, then the payload):
   * returns the end, or `-need` (the room the encoder asked for where it stopped, more than
   * `buf.length - at`) when it does not fit, having written nothing but bytes of `buf` from `at` on.
   */
  encodeInto(value: T, reserve: number, buf: Uint8Array, at: number): number;
  /** `decode` without the options object (the frame decoder's hot path). */
  decodePayload(bytes: Uint8Array, copy: boolean): T;
}

type Named = Extract<TypeDesc, { kind: 'struct' | 'enum' | 'union' }>;

const SCALAR_DECODE: Record<string, (w: string) => string> = {
  bool: (w) => `r.bool(${w})`,
  u8: (w) => `r.int(0, 255, 'u8', ${w})`,
  u16: (w) => `r.int(0, 65535, 'u16', ${w})`,
  u32: (w) => `r.int(0, 4294967295, 'u32', ${w})`,
  i8: (w) => `r.int(-128, 127, 'i8', ${w})`,
  i16: (w) => `r.int(-32768, 32767, 'i16', ${w})`,
  i32: (w) => `r.int(-2147483648, 2147483647, 'i32', ${w})`,
  u64: (w) => `r.int64(false, ${w})`,
  i64: (w) => `r.int64(true, ${w})`,
  f32: (w) => `r.float(true, ${w})`,
  f64: (w) => `r.float(false, ${w})`,
  string: (w) => `r.str(${w})`,
  bytes: (w) => `r.bin(${w})`,
};

// Fast type-and-range checks: `(x & 0xff) === x` is false for anything but an integer in 0..255.
const INT_CHECK: Record<string, [string, number, number, 'uint' | 'int']> = {
  u8: ['(X & 0xff) !== X', 0, 255, 'uint'],
  u16: ['(X & 0xffff) !== X', 0, 65535, 'uint'],
  u32: ['(X >>> 0) !== X', 0, 4294967295, 'uint'],
  i8: ['((X << 24) >> 24) !== X', -128, 127, 'int'],
  i16: ['((X << 16) >> 16) !== X', -32768, 32767, 'int'],
  i32: ['(X | 0) !== X', -2147483648, 2147483647, 'int'],
};

/** Runtime helpers the generated decoders call on their rare paths. */
const rt = {
  /** Read a struct key that did not match the expected one: its field index, or -1 if unknown. */
  keyIndex(r: Reader, keys: Map<string, number>, where: string): number {
    const t = r.buf[r.pos];
    if (t === undefined || !((t & 0xe0) === 0xa0 || t === 0xd9 || t === 0xda || t === 0xdb)) {
      if (t === undefined) r.truncated(1, where);
      throw tmeshError(
        'E_DECODE',
        `${where}: struct keys must be strings, found type byte 0x${t.toString(16)} at payload offset ${r.pos}`,
      );
    }
    const index = keys.get(r.str(where));
    return index === undefined ? -1 : index;
  },
  /** Read an enum case name (str) and return its index among `names`; unknown -> E_INVALID_ENUM_VARIANT. */
  variant(r: Reader, encoded: readonly Uint8Array[], names: readonly string[], where: string): number {
    const start = r.pos;
    for (let i = 0; i < encoded.length; i++) if (r.matches(encoded[i]!)) return i;
    const name = r.str(where);
    const index = names.indexOf(name);
    if (index >= 0) {
      // The same name with a non-minimal str header: still the case Swift would decode.
      return index;
    }
    throw tmeshError(
      'E_INVALID_ENUM_VARIANT',
      `${where}: case ${JSON.stringify(name)} at payload offset ${start} is not declared (known: ${names.join(', ')})`,
    );
  },
  missing(where: string, field: string): never {
    throw tmeshError('E_MISSING_FIELD', `${where}: required key "${field}" is absent`);
  },
  duplicate(where: string, field: string): never {
    throw tmeshError('E_DECODE', `${where}: key "${field}" appears twice`);
  },
  duplicateMapKey(where: string): never {
    throw tmeshError('E_DECODE', `${where}: the same map key appears twice`);
  },
  unionSize(where: string, n: number): never {
    throw tmeshError(
      'E_DECODE',
      `${where}: an enum with associated values is a map with exactly one key (the case name), got ${n} keys`,
    );
  },
  unknownVariant(where: string, kind: unknown, names: readonly string[]): never {
    throw tmeshError(
      'E_ENCODE_INVALID_VALUE',
      `${where}: ${JSON.stringify(kind)} is not a case of this enum (known: ${names.join(', ')})`,
    );
  },
};

class Generator {
  readonly consts: unknown[] = [];
  readonly fns: string[] = [];
  readonly #encNamed = new Map<TypeDesc, string>();
  readonly #decNamed = new Map<TypeDesc, string>();
  #next = 0;
  #local = 0;

  const(value: unknown): string {
    this.consts.push(value);
    return `C[${this.consts.length - 1}]`;
  }

  fresh(prefix: string): string {
    return `${prefix}${this.#local++}`;
  }

  fnName(prefix: string): string {
    return `${prefix}${this.#next++}`;
  }

  /** Statements that write the value in local `x` (already read, never re-evaluated). */
  enc(desc: TypeDesc, x: string, where: string): string {
    const W = JSON.stringify(where);
    const ic = INT_CHECK[desc.kind];
    if (ic) {
      const [test, min, max, writer] = ic;
      return `if (${test.replaceAll('X', x)}) check.intFailed(${x}, '${desc.kind}', ${min}, ${max}, ${W}); w.${writer}(${x});`;
    }
    switch (desc.kind) {
      case 'bool':
        return `if (typeof ${x} !== 'boolean') check.invalid(${W}, 'a boolean', ${x}); w.ensure(1); w.buf[w.pos++] = ${x} ? 0xc3 : 0xc2;`;
      case 'u64':
        return `if (typeof ${x} !== 'bigint' || ${x} < 0n || ${x} > 18446744073709551615n) check.u64(${x}, ${W}); w.u64(${x});`;
      case 'i64':
        return `if (typeof ${x} !== 'bigint' || ${x} < -9223372036854775808n || ${x} > 9223372036854775807n) check.i64(${x}, ${W}); w.i64(${x});`;
      case 'f32':
        return `if (typeof ${x} !== 'number' || (Math.abs(Math.fround(${x})) === Infinity && Math.abs(${x}) !== Infinity)) check.float(${x}, 'f32', ${W}); w.f32(${x});`;
      case 'f64':
        return `if (typeof ${x} !== 'number') check.float(${x}, 'f64', ${W}); w.f64(${x});`;
      case 'string':
        return `if (typeof ${x} !== 'string') check.invalid(${W}, 'a string', ${x}); w.str(${x}, ${W});`;
      case 'bytes':
        return `if (!(${x} instanceof Uint8Array)) check.invalid(${W}, 'a Uint8Array', ${x}); w.bin(${x});`;
      case 'optional':
        return `if (${x} == null) w.nil(); else { ${this.enc(desc.inner, x, where)} }`;
      case 'list': {
        const fn = this.fnName('eL');
        const y = this.fresh('y');
        this.fns.push(
          `function ${fn}(x) {
  if (!Array.isArray(x)) check.invalid(${W}, 'an array', x);
  const n = x.length;
  w.arrayHeader(n);
  for (let i = 0; i < n; i++) { const ${y} = x[i]; ${this.enc(desc.item, y, `${where}[]`)} }
}`,
        );
        return `${fn}(${x});`;
      }
      case 'map': {
        const fn = this.fnName('eM');
        const k = this.fresh('k');
        const v = this.fresh('v');
        this.fns.push(
          `function ${fn}(x) {
  if (!(x instanceof Map)) check.invalid(${W}, 'a Map', x);
  w.mapHeader(x.size);
  for (const [${k}, ${v}] of x) { ${this.enc(desc.key, k, `${where} key`)} ${this.enc(desc.value, v, `${where} value`)} }
}`,
        );
        return `${fn}(${x});`;
      }
      case 'struct':
      case 'enum':
      case 'union':
        return `${this.encNamed(desc)}(${x});`;
      default:
        throw tmeshError(
          'E_SCHEMA_UNKNOWN_TYPE',
          `${where}: unknown type kind ${JSON.stringify((desc as TypeDesc).kind)}`,
        );
    }
  }

  /** Inline writes of pre-encoded bytes (struct keys, case names). */
  rawBytes(bytes: Uint8Array): string {
    if (bytes.length > 24) return `w.raw(${this.const(bytes)});`;
    const writes = [...bytes].map((b, i) => `b[p${i === 0 ? '' : ` + ${i}`}] = ${b};`).join(' ');
    return `{ w.ensure(${bytes.length}); const b = w.buf; const p = w.pos; ${writes} w.pos = p + ${bytes.length}; }`;
  }

  encNamed(desc: Named): string {
    const known = this.#encNamed.get(desc);
    if (known) return known;
    const fn = this.fnName(`e_${desc.name}_`);
    this.#encNamed.set(desc, fn);
    const W = JSON.stringify(desc.name);
    let body: string;
    if (desc.kind === 'struct') {
      const required = desc.fields.filter((f) => f.type.kind !== 'optional').length;
      const lines = [`if (typeof v !== 'object' || v === null) check.invalid(${W}, 'an object', v);`];
      const locals = desc.fields.map((f, i) => {
        if (f.name === '__proto__') {
          throw tmeshError('E_SCHEMA_UNSUPPORTED', `${desc.name}: a field may not be named __proto__`);
        }
        // A field named like an Object.prototype member must not read the inherited one when absent.
        return f.name in Object.prototype
          ? `const f${i} = Object.hasOwn(v, ${JSON.stringify(f.name)}) ? v.${f.name} : undefined;`
          : `const f${i} = v.${f.name};`;
      });
      lines.push(...locals, `let n = ${required};`);
      desc.fields.forEach((f, i) => {
        if (f.type.kind === 'optional') lines.push(`if (f${i} != null) n++;`);
      });
      lines.push('w.mapHeader(n);');
      desc.fields.forEach((f, i) => {
        const where = `${desc.name}.${f.name}`;
        const key = this.rawBytes(encodeStr(f.name));
        if (f.type.kind === 'optional') {
          lines.push(`if (f${i} != null) { ${key} ${this.enc(f.type.inner, `f${i}`, where)} }`);
        } else lines.push(`${key} ${this.enc(f.type, `f${i}`, where)}`);
      });
      body = lines.join('\n  ');
    } else if (desc.kind === 'enum') {
      const cases = desc.variants.map(
        (v) => `case ${JSON.stringify(v.name)}: ${this.rawBytes(encodeStr(v.name))} return;`,
      );
      body = `switch (v) {\n    ${cases.join('\n    ')}\n  }\n  rt.unknownVariant(${W}, v, ${this.const(desc.variants.map((v) => v.name))});`;
    } else {
      const assoc = encodeStr(ASSOCIATED_VALUE_KEY);
      const cases = desc.variants.map((v) => {
        const name = encodeStr(v.name);
        const where = `${desc.name}.${v.name}`;
        // { "case": {} } for a unit case (or a nil optional), { "case": { "_0": value } } otherwise.
        const unit = this.rawBytes(Uint8Array.of(0x81, ...name, 0x80));
        const withValue = this.rawBytes(Uint8Array.of(0x81, ...name, 0x81, ...assoc));
        if (!v.type) return `case ${JSON.stringify(v.name)}: ${unit} return;`;
        if (v.type.kind === 'optional') {
          return `case ${JSON.stringify(v.name)}: { const x = v.value; if (x == null) { ${unit} } else { ${withValue} ${this.enc(v.type.inner, 'x', where)} } return; }`;
        }
        return `case ${JSON.stringify(v.name)}: { const x = v.value; ${withValue} ${this.enc(v.type, 'x', where)} return; }`;
      });
      body = `if (typeof v !== 'object' || v === null) check.invalid(${W}, 'an object { kind, value }', v);
  switch (v.kind) {\n    ${cases.join('\n    ')}\n  }\n  rt.unknownVariant(${W}, v.kind, ${this.const(desc.variants.map((v) => v.name))});`;
    }
    this.fns.push(`function ${fn}(v) {\n  ${body}\n}`);
    return fn;
  }

  /** An expression that decodes one value of `desc` at the reader's cursor. */
  dec(desc: TypeDesc, where: string): string {
    const W = JSON.stringify(where);
    const scalar = SCALAR_DECODE[desc.kind];
    if (scalar) return scalar(W);
    switch (desc.kind) {
      case 'optional':
        return `(r.peekNil() ? (r.pos++, undefined) : ${this.dec(desc.inner, where)})`;
      case 'list': {
        const fn = this.fnName('dL');
        this.fns.push(
          `function ${fn}() {
  const n = r.arrayHeader(${W});
  const a = [];
  for (let i = 0; i < n; i++) a.push(${this.dec(desc.item, `${where}[]`)});
  return a;
}`,
        );
        return `${fn}()`;
      }
      case 'map': {
        const fn = this.fnName('dM');
        this.fns.push(
          `function ${fn}() {
  const n = r.mapHeader(${W});
  const m = new Map();
  for (let i = 0; i < n; i++) { const k = ${this.dec(desc.key, `${where} key`)}; m.set(k, ${this.dec(desc.value, `${where} value`)}); }
  if (m.size !== n) rt.duplicateMapKey(${W});
  return m;
}`,
        );
        return `${fn}()`;
      }
      case 'struct':
      case 'enum':
      case 'union':
        return `${this.decNamed(desc)}()`;
      default:
        throw tmeshError(
          'E_SCHEMA_UNKNOWN_TYPE',
          `${where}: unknown type kind ${JSON.stringify((desc as TypeDesc).kind)}`,
        );
    }
  }

  decNamed(desc: Named): string {
    const known = this.#decNamed.get(desc);
    if (known) return known;
    const fn = this.fnName(`d_${desc.name}_`);
    this.#decNamed.set(desc, fn);
    const W = JSON.stringify(desc.name);
    let body: string;
    if (desc.kind === 'struct') {
      const fields = desc.fields;
      const keys = this.const(fields.map((f) => encodeStr(f.name)));
      const lookup = this.const(new Map(fields.map((f, i) => [f.name, i])));
      const lines = [
        `const n = r.mapHeader(${W});`,
        ...fields.map((_, i) => `let f${i}; let s${i} = false;`),
        'let next = 0;',
        'for (let i = 0; i < n; i++) {',
        // Keys usually come in declaration order: compare bytes with the expected key before decoding it.
        `  const k = next < ${fields.length} && r.matches(${keys}[next]) ? next : rt.keyIndex(r, ${lookup}, ${W});`,
        '  switch (k) {',
      ];
      fields.forEach((f, i) => {
        const where = `${desc.name}.${f.name}`;
        lines.push(
          `    case ${i}: if (s${i}) rt.duplicate(${W}, ${JSON.stringify(f.name)}); s${i} = true; f${i} = ${this.dec(f.type, where)}; break;`,
        );
      });
      // An unknown key: a newer Swift struct may have gained a field. Skip its value.
      lines.push(`    default: r.skip(${W}); continue;`, '  }', '  next = k + 1;', '}');
      fields.forEach((f, i) => {
        if (f.type.kind !== 'optional')
          lines.push(`if (!s${i}) rt.missing(${W}, ${JSON.stringify(f.name)});`);
      });
      const required = fields
        .map((f, i) => (f.type.kind === 'optional' ? undefined : `${f.name}: f${i}`))
        .filter(Boolean);
      lines.push(`const o = { ${required.join(', ')} };`);
      fields.forEach((f, i) => {
        if (f.type.kind === 'optional') lines.push(`if (f${i} !== undefined) o.${f.name} = f${i};`);
      });
      lines.push('return o;');
      body = lines.join('\n  ');
    } else if (desc.kind === 'enum') {
      const names = desc.variants.map((v) => v.name);
      const encoded = this.const(names.map((n) => encodeStr(n)));
      body = `return ${this.const(names)}[rt.variant(r, ${encoded}, ${this.const(names)}, ${W})];`;
    } else {
      const names = desc.variants.map((v) => v.name);
      const encoded = this.const(names.map((n) => encodeStr(n)));
      const assoc = this.const(encodeStr(ASSOCIATED_VALUE_KEY));
      const cases = desc.variants.map((v, i) => {
        const where = `${desc.name}.${v.name}`;
        const kind = JSON.stringify(v.name);
        if (!v.type) {
          return `case ${i}: for (let j = 0; j < m; j++) { r.skip(${W}); r.skip(${W}); } return { kind: ${kind} };`;
        }
        const optional = v.type.kind === 'optional';
        const inner = optional ? (v.type as { inner: TypeDesc }).inner : v.type;
        return `case ${i}: {
      let x; let s = false;
      for (let j = 0; j < m; j++) {
        if (r.matches(${assoc})) { if (s) rt.duplicate(${JSON.stringify(where)}, '_0'); s = true; x = ${optional ? `(r.peekNil() ? (r.pos++, undefined) : ${this.dec(inner, where)})` : this.dec(inner, where)}; }
        else { r.skip(${W}); r.skip(${W}); }
      }
      ${optional ? `return x === undefined ? { kind: ${kind} } : { kind: ${kind}, value: x };` : `if (!s) rt.missing(${JSON.stringify(where)}, '_0');\n      return { kind: ${kind}, value: x };`}
    }`;
      });
      body = `const n = r.mapHeader(${W});
  if (n !== 1) rt.unionSize(${W}, n);
  const c = rt.variant(r, ${encoded}, ${this.const(names)}, ${W});
  const m = r.mapHeader(${W});
  switch (c) {
    ${cases.join('\n    ')}
  }
  throw new Error('unreachable');`;
    }
    this.fns.push(`function ${fn}() {\n  ${body}\n}`);
    return fn;
  }
}

interface Compiled {
  encode(value: unknown): void;
  decode(): unknown;
}

const writer = new Writer();
const reader = new Reader();

function generate(desc: TypeDesc): Compiled {
  const gen = new Generator();
  const encodeBody = gen.enc(desc, 'v', rootName(desc));
  const decodeExpr = gen.dec(desc, rootName(desc));
  const source = `"use strict";
${gen.fns.join('\n')}
return {
  encode(v) { ${encodeBody} },
  decode() { return ${decodeExpr}; },
};`;
  const factory = new Function('w', 'r', 'check', 'rt', 'C', source) as (...args: unknown[]) => Compiled;
  return factory(writer, reader, check, rt, gen.consts);
}

function rootName(desc: TypeDesc): string {
  return 'name' in desc ? desc.name : desc.kind;
}

const cache = new WeakMap<TypeDesc, SwiftPayloadCodec<any>>();

/**
 * Compile a schema into its Swift-wire payload codec (MessagePack as Swift Codable writes it).
 * Compiled once per descriptor and cached.
 */
export function compileSwift<T>(schema: Schema<T>): SwiftPayloadCodec<T> {
  const desc = schema?.desc;
  if (!desc || typeof desc !== 'object') {
    throw tmeshError('E_SCHEMA_UNKNOWN_TYPE', 'compileSwift: expected a tmesh schema (t.struct(...), ...)');
  }
  const cached = cache.get(desc);
  if (cached) return cached as SwiftPayloadCodec<T>;
  const compiled = generate(desc);
  const where = rootName(desc);
  const encodeWithReserve = (value: T, reserve: number): Uint8Array => {
    // A getter on the value could call encode again and interleave writes into the shared slab.
    if (writer.busy)
      throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: encode called again while encoding`);
    writer.busy = true;
    try {
      writer.begin(reserve);
      compiled.encode(value);
      return writer.finish();
    } finally {
      writer.busy = false;
    }
  };
  const encodeGather = (value: T, reserve: number): { head: Uint8Array; refs: (number | Uint8Array)[] } => {
    if (writer.busy)
      throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: encode called again while encoding`);
    writer.busy = true;
    writer.gather = true;
    try {
      writer.begin(reserve);
      compiled.encode(value);
      const refs = writer.refs;
      if (refs.length > 0) writer.refs = [];
      return { head: writer.finish(), refs };
    } finally {
      writer.gather = false;
      if (writer.refs.length > 0) writer.refs = [];
      writer.busy = false;
    }
  };
  const encodeInto = (value: T, reserve: number, buf: Uint8Array, at: number): number => {
    if (writer.busy)
      throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: encode called again while encoding`);
    writer.busy = true;
    writer.bind(buf, at, reserve);
    try {
      compiled.encode(value);
      return writer.pos;
    } catch (error) {
      if (error === NO_ROOM) return -writer.need;
      throw error;
    } finally {
      writer.unbind();
      writer.busy = false;
    }
  };
  const codec: SwiftPayloadCodec<T> = {
    encodeWithReserve,
    encodeGather,
    encodeInto,
    encode: (value) => encodeWithReserve(value, 0),
    decode(bytes, options) {
      if (!(bytes instanceof Uint8Array)) {
        throw tmeshError('E_INVALID_ARGUMENT', `${where}: decode expects a Uint8Array`);
      }
      return decodePayload(bytes, options?.copy === true);
    },
    decodePayload,
  };
  function decodePayload(bytes: Uint8Array, copy: boolean): T {
    reader.reset(bytes, copy);
    const value = compiled.decode() as T;
    if (reader.pos !== reader.end) {
      throw tmeshError(
        'E_TRAILING_BYTES',
        `${where}: ${reader.end - reader.pos} bytes after the value (payload is ${reader.end} bytes)`,
      );
    }
    reader.reset(EMPTY, false);
    return value;
  }
  cache.set(desc, codec);
  return codec;
}

const EMPTY = new Uint8Array(0);
