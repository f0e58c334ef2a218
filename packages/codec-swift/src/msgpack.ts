// MessagePack primitives for the Swift wire: a growable writer that always picks the smallest encoding
// (as Swift MessagePack encoders and Python `msgpack` do) and a bounds-checked reader that turns every
// malformed input into a TmeshError. The generated per-schema code (compile.ts) drives both.
import { GATHER_MIN_BYTES, tmeshError } from '@tmesh/core';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
// Scratch cells for IEEE 754 conversions without a DataView per call.
const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);

const TWO_32 = 0x100000000;
const U64_MAX = 0xffffffffffffffffn;
const I64_MIN = -0x8000000000000000n;
const I64_MAX = 0x7fffffffffffffffn;

/** Strings at least this long are encoded by TextEncoder; shorter ones by hand. */
const LONG_STRING = 64;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type WellFormed = { isWellFormed?: () => boolean };

function describeByte(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

/** Encoded form of a string as a MessagePack str (header included), e.g. for struct keys. */
export function encodeStr(s: string): Uint8Array {
  const w = new Writer(16 + s.length * 3);
  w.begin(0);
  w.str(s, 'key');
  return w.finish();
}

/**
 * A slab of `size` bytes without zero-filling it first (Node's Buffer.allocUnsafeSlow; a plain
 * Uint8Array elsewhere). Safe because the writer only ever hands out bytes it has written.
 */
function allocSlab(size: number): Uint8Array {
  const B = (globalThis as { Buffer?: { allocUnsafeSlow(n: number): Uint8Array } }).Buffer;
  return B ? new Uint8Array(B.allocUnsafeSlow(size).buffer, 0, size) : new Uint8Array(size);
}

/**
 * What a writer bound to a caller's buffer throws when the message does not fit (a plain object, not an
 * Error: no stack is captured, and the encoder catches it right away).
 */
export const NO_ROOM: { readonly reason: string } = Object.freeze({ reason: 'no room in the bound buffer' });

/** Size of one output slab; a bigger message gets a slab of its own size plus this. */
export const SLAB_SIZE = 64 * 1024;

/**
 * The output buffer, reused across encodes the way msgpackr does it: each message is written into the
 * free tail of a slab and handed out as a view of exactly its bytes; the next message starts after it.
 * No region is ever written twice, so a returned message is the caller's alone; when the tail is too
 * short a fresh slab is allocated (the old one lives on while messages still reference it).
 */
export class Writer {
  buf: Uint8Array;
  pos = 0;
  /** Where the message being written starts. */
  start = 0;
  /** First byte no finished message uses. */
  free = 0;
  /** True while a message is being written (guards against re-entrant encodes). */
  busy = false;
  /**
   * Set for a gather encode: bin values of at least `GATHER_MIN_BYTES` are then not copied but
   * recorded in `refs` as pairs (offset from `start`, the caller's array).
   */
  gather = false;
  refs: (number | Uint8Array)[] = [];
  /**
   * Set while the writer writes into a caller's buffer (`bind`): a message that does not fit is not
   * moved to a new slab; the encode stops with `NO_ROOM` and `need` holds the room it asked for (the
   * bytes written so far plus those of the write that did not fit).
   */
  bounded = false;
  need = 0;
  /** The slab and its first free byte, kept aside while bound to a caller's buffer. */
  #slab: Uint8Array | undefined;
  #slabFree = 0;

  constructor(size = SLAB_SIZE) {
    this.buf = allocSlab(size);
  }

  /** Write the next message into `buf` from `at` on, after `reserve` blank bytes, until `unbind`. */
  bind(buf: Uint8Array, at: number, reserve: number): void {
    this.#slab = this.buf;
    this.#slabFree = this.free;
    this.bounded = true;
    this.buf = buf;
    this.start = at;
    this.pos = at + reserve;
  }

  /** Back to the writer's own slab after `bind`. */
  unbind(): void {
    this.bounded = false;
    this.buf = this.#slab!;
    this.free = this.#slabFree;
    this.#slab = undefined;
    this.start = this.free;
    this.pos = this.free;
  }

  /** Start a message with `reserve` bytes left blank in front (for a frame header). */
  begin(reserve: number): void {
    if (this.buf.length - this.free < reserve + 256) {
      this.buf = allocSlab(SLAB_SIZE);
      this.free = 0;
    }
    this.start = this.free;
    this.pos = this.start + reserve;
  }

  /** The finished message: a view of exactly its bytes, never written again. */
  finish(): Uint8Array {
    const out = this.buf.subarray(this.start, this.pos);
    this.free = (this.pos + 7) & ~7;
    return out;
  }

  /** Make room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /** Move the message written so far to the front of a new slab big enough for `n` more bytes. */
  grow(n: number): void {
    const used = this.pos - this.start;
    if (this.bounded) {
      this.need = used + n;
      throw NO_ROOM;
    }
    const next = allocSlab(Math.max(SLAB_SIZE, used + n + SLAB_SIZE));
    next.set(this.buf.subarray(this.start, this.pos));
    this.buf = next;
    this.start = 0;
    this.pos = used;
    this.free = 0;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  nil(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0xc0;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 0xc3 : 0xc2;
  }

  /** A non-negative integer up to 2^53, smallest encoding. */
  uint(v: number): void {
    this.ensure(9);
    const b = this.buf;
    let p = this.pos;
    if (v < 0x80) b[p++] = v;
    else if (v < 0x100) {
      b[p++] = 0xcc;
      b[p++] = v;
    } else if (v < 0x10000) {
      b[p++] = 0xcd;
      b[p++] = v >>> 8;
      b[p++] = v & 0xff;
    } else if (v < TWO_32) {
      b[p++] = 0xce;
      b[p++] = v >>> 24;
      b[p++] = (v >>> 16) & 0xff;
      b[p++] = (v >>> 8) & 0xff;
      b[p++] = v & 0xff;
    } else {
      this.pos = p;
      this.word64(0xcf, Math.floor(v / TWO_32), v >>> 0);
      return;
    }
    this.pos = p;
  }

  /** A 32-bit signed integer, smallest encoding (non-negative values use the unsigned forms). */
  int(v: number): void {
    if (v >= 0) {
      this.uint(v);
      return;
    }
    this.ensure(5);
    const b = this.buf;
    let p = this.pos;
    if (v >= -32) b[p++] = v & 0xff;
    else if (v >= -128) {
      b[p++] = 0xd0;
      b[p++] = v & 0xff;
    } else if (v >= -32768) {
      b[p++] = 0xd1;
      b[p++] = (v >> 8) & 0xff;
      b[p++] = v & 0xff;
    } else {
      b[p++] = 0xd2;
      b[p++] = (v >>> 24) & 0xff;
      b[p++] = (v >>> 16) & 0xff;
      b[p++] = (v >>> 8) & 0xff;
      b[p++] = v & 0xff;
    }
    this.pos = p;
  }

  /** A u64 (already range-checked bigint), smallest encoding. */
  u64(v: bigint): void {
    if (v < 0x100000000n) {
      this.uint(Number(v));
      return;
    }
    this.word64(0xcf, Number(v >> 32n), Number(v & 0xffffffffn));
  }

  /** An i64 (already range-checked bigint), smallest encoding. */
  i64(v: bigint): void {
    if (v >= -0x80000000n) {
      if (v < 0x100000000n) this.int(Number(v));
      else this.word64(0xcf, Number(v >> 32n), Number(v & 0xffffffffn));
      return;
    }
    this.word64(0xd3, Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn));
  }

  word64(type: number, hi: number, lo: number): void {
    this.ensure(9);
    const b = this.buf;
    let p = this.pos;
    b[p++] = type;
    b[p++] = hi >>> 24;
    b[p++] = (hi >>> 16) & 0xff;
    b[p++] = (hi >>> 8) & 0xff;
    b[p++] = hi & 0xff;
    b[p++] = lo >>> 24;
    b[p++] = (lo >>> 16) & 0xff;
    b[p++] = (lo >>> 8) & 0xff;
    b[p++] = lo & 0xff;
    this.pos = p;
  }

  /** float 32 (0xca), big-endian. */
  f32(v: number): void {
    this.ensure(5);
    const b = this.buf;
    const p = this.pos;
    f32[0] = v;
    b[p] = 0xca;
    if (LITTLE_ENDIAN) {
      b[p + 1] = f32b[3]!;
      b[p + 2] = f32b[2]!;
      b[p + 3] = f32b[1]!;
      b[p + 4] = f32b[0]!;
    } else b.set(f32b, p + 1);
    this.pos = p + 5;
  }

  /** float 64 (0xcb), big-endian. */
  f64(v: number): void {
    this.ensure(9);
    const b = this.buf;
    const p = this.pos;
    f64[0] = v;
    b[p] = 0xcb;
    if (LITTLE_ENDIAN) {
      b[p + 1] = f64b[7]!;
      b[p + 2] = f64b[6]!;
      b[p + 3] = f64b[5]!;
      b[p + 4] = f64b[4]!;
      b[p + 5] = f64b[3]!;
      b[p + 6] = f64b[2]!;
      b[p + 7] = f64b[1]!;
      b[p + 8] = f64b[0]!;
    } else b.set(f64b, p + 1);
    this.pos = p + 9;
  }

  /** A str with the smallest header; a lone UTF-16 surrogate is E_ENCODE_INVALID_VALUE. */
  str(s: string, where: string): void {
    const n = s.length;
    if (n < LONG_STRING) {
      // At most 3 bytes per UTF-16 unit: guess the header from that bound, move the bytes if wrong.
      this.ensure(2 + n * 3);
      const b = this.buf;
      const start = this.pos;
      const guess = n * 3 < 32 ? 1 : 2;
      let p = start + guess;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x80) b[p++] = c;
        else if (c < 0x800) {
          b[p++] = 0xc0 | (c >> 6);
          b[p++] = 0x80 | (c & 0x3f);
        } else if (c < 0xd800 || c > 0xdfff) {
          b[p++] = 0xe0 | (c >> 12);
          b[p++] = 0x80 | ((c >> 6) & 0x3f);
          b[p++] = 0x80 | (c & 0x3f);
        } else {
          const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
          if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) {
            throw tmeshError(
              'E_ENCODE_INVALID_VALUE',
              `${where}: string holds a lone UTF-16 surrogate at index ${i}`,
            );
          }
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          b[p++] = 0xf0 | (cp >> 18);
          b[p++] = 0x80 | ((cp >> 12) & 0x3f);
          b[p++] = 0x80 | ((cp >> 6) & 0x3f);
          b[p++] = 0x80 | (cp & 0x3f);
        }
      }
      const len = p - start - guess;
      if (len < 32) {
        if (guess === 2) {
          b.copyWithin(start + 1, start + 2, p);
          p--;
        }
        b[start] = 0xa0 | len;
      } else {
        // len <= 3 * 63 < 256: str 8 (guess is 2 whenever len can reach 32).
        b[start] = 0xd9;
        b[start + 1] = len;
      }
      this.pos = p;
      return;
    }
    if ((s as WellFormed).isWellFormed?.() === false) {
      throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: string holds a lone UTF-16 surrogate`);
    }
    const max = n * 3;
    const guess = max < 0x100 ? 2 : max < 0x10000 ? 3 : 5;
    this.ensure(guess + max);
    const start = this.pos;
    const len = textEncoder.encodeInto(s, this.buf.subarray(start + guess)).written;
    const head = len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
    if (head !== guess) this.buf.copyWithin(start + head, start + guess, start + guess + len);
    this.header(0xd9, head, len);
    this.pos = start + head + len;
  }

  /** A bin with the smallest header (bin 8/16/32). */
  bin(data: Uint8Array): void {
    const len = data.length;
    const head = len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
    if (len >= GATHER_MIN_BYTES && this.gather) {
      // Only the bin header goes into the slab; the array itself becomes a part of the frame.
      this.ensure(head);
      this.header(0xc4, head, len);
      this.pos += head;
      this.refs.push(this.pos - this.start, data);
      return;
    }
    this.ensure(head + len);
    this.header(0xc4, head, len);
    this.pos += head;
    if (len < 32) {
      const b = this.buf;
      const p = this.pos;
      for (let i = 0; i < len; i++) b[p + i] = data[i]!;
    } else this.buf.set(data, this.pos);
    this.pos += len;
  }

  /** Write a str/bin 8-16-32 header at `pos` (not advancing): `base` is the 8-bit type byte. */
  header(base: number, head: number, len: number): void {
    const b = this.buf;
    const p = this.pos;
    if (head === 2) {
      b[p] = base;
      b[p + 1] = len;
    } else if (head === 3) {
      b[p] = base + 1;
      b[p + 1] = len >>> 8;
      b[p + 2] = len & 0xff;
    } else {
      b[p] = base + 2;
      b[p + 1] = len >>> 24;
      b[p + 2] = (len >>> 16) & 0xff;
      b[p + 3] = (len >>> 8) & 0xff;
      b[p + 4] = len & 0xff;
    }
  }

  arrayHeader(n: number): void {
    this.collectionHeader(0x90, 0xdc, n);
  }

  mapHeader(n: number): void {
    this.collectionHeader(0x80, 0xde, n);
  }

  collectionHeader(fix: number, base16: number, n: number): void {
    this.ensure(5);
    const b = this.buf;
    const p = this.pos;
    if (n < 16) {
      b[p] = fix | n;
      this.pos = p + 1;
    } else if (n < 0x10000) {
      b[p] = base16;
      b[p + 1] = n >>> 8;
      b[p + 2] = n & 0xff;
      this.pos = p + 3;
    } else {
      b[p] = base16 + 1;
      b[p + 1] = n >>> 24;
      b[p + 2] = (n >>> 16) & 0xff;
      b[p + 3] = (n >>> 8) & 0xff;
      b[p + 4] = n & 0xff;
      this.pos = p + 5;
    }
  }
}

/** Range and type checks shared by the generated encoders: each throws the precise code. */
export const check = {
  /** Throw E_ENCODE_INVALID_VALUE or E_RANGE for a value that failed an integer fast check. */
  intFailed(v: unknown, kind: string, min: number, max: number, where: string): never {
    if (typeof v !== 'number') {
      throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: ${kind} must be a number, got ${typeName(v)}`);
    }
    if (!Number.isInteger(v)) throw tmeshError('E_RANGE', `${where}: ${kind} must be an integer, got ${v}`);
    throw tmeshError('E_RANGE', `${where}: ${v} does not fit ${kind} (${min}..${max})`);
  },
  u64(v: unknown, where: string): bigint {
    if (typeof v !== 'bigint') {
      throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: u64 must be a bigint, got ${typeName(v)}`);
    }
    if (v < 0n || v > U64_MAX) throw tmeshError('E_RANGE', `${where}: ${v} does not fit u64`);
    return v;
  },
  i64(v: unknown, where: string): bigint {
    if (typeof v !== 'bigint') {
      throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: i64 must be a bigint, got ${typeName(v)}`);
    }
    if (v < I64_MIN || v > I64_MAX) throw tmeshError('E_RANGE', `${where}: ${v} does not fit i64`);
    return v;
  },
  float(v: unknown, kind: 'f32' | 'f64', where: string): never {
    if (typeof v !== 'number') {
      throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: ${kind} must be a number, got ${typeName(v)}`);
    }
    throw tmeshError('E_RANGE', `${where}: ${v} is finite but overflows f32`);
  },
  invalid(where: string, expected: string, v: unknown): never {
    throw tmeshError('E_ENCODE_INVALID_VALUE', `${where}: expected ${expected}, got ${typeName(v)}`);
  },
};

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

const fromCharCode = String.fromCharCode;

/** Up to 8 ASCII bytes as a string, in one call (no per-character concatenation). */
function ascii8(b: Uint8Array, p: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return fromCharCode(b[p]!);
    case 2:
      return fromCharCode(b[p]!, b[p + 1]!);
    case 3:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!);
    case 4:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!);
    case 5:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!);
    case 6:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!);
    case 7:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!);
    default:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!);
  }
}

/** A bounds-checked cursor over one payload. Every failure is a TmeshError; nothing is allocated early. */
export class Reader {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  end = 0;
  copy = false;

  reset(bytes: Uint8Array, copy: boolean): void {
    this.buf = bytes;
    this.pos = 0;
    this.end = bytes.length;
    this.copy = copy;
  }

  truncated(n: number, where: string): never {
    throw tmeshError(
      'E_FRAME_TRUNCATED',
      `${where}: needs ${n} bytes at payload offset ${this.pos}, only ${this.end - this.pos} left`,
    );
  }

  wrongType(expected: string, type: number, where: string): never {
    throw tmeshError(
      'E_DECODE',
      `${where}: expected ${expected} at payload offset ${this.pos - 1}, found type byte ${describeByte(type)}`,
    );
  }

  byte(where: string): number {
    if (this.pos >= this.end) this.truncated(1, where);
    return this.buf[this.pos++]!;
  }

  /** Big-endian unsigned integer of `n` (1, 2 or 4) bytes. */
  be(n: number, where: string): number {
    const p = this.pos;
    if (this.end - p < n) this.truncated(n, where);
    const b = this.buf;
    this.pos = p + n;
    if (n === 1) return b[p]!;
    if (n === 2) return (b[p]! << 8) | b[p + 1]!;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** True (and the cursor stays) when the next byte is nil. */
  peekNil(): boolean {
    return this.pos < this.end && this.buf[this.pos] === 0xc0;
  }

  bool(where: string): boolean {
    const t = this.byte(where);
    if (t === 0xc3) return true;
    if (t === 0xc2) return false;
    throw tmeshError(
      'E_INVALID_BOOL',
      `${where}: expected true (0xc3) or false (0xc2) at payload offset ${this.pos - 1}, found ${describeByte(t)}`,
    );
  }

  /** Any MessagePack integer of any width, as a number, checked against [min, max] (both within i32/u32). */
  int(min: number, max: number, kind: string, where: string): number {
    const t = this.byte(where);
    let v: number;
    if (t < 0x80) v = t;
    else if (t >= 0xe0) v = t - 0x100;
    else {
      switch (t) {
        case 0xcc:
          v = this.be(1, where);
          break;
        case 0xcd:
          v = this.be(2, where);
          break;
        case 0xce:
          v = this.be(4, where);
          break;
        case 0xd0:
          v = (this.be(1, where) << 24) >> 24;
          break;
        case 0xd1:
          v = (this.be(2, where) << 16) >> 16;
          break;
        case 0xd2:
          v = this.be(4, where) | 0;
          break;
        case 0xcf:
        case 0xd3: {
          const big = this.word64(t, where);
          if (big < BigInt(min) || big > BigInt(max)) this.outOfRange(big, kind, where);
          return Number(big);
        }
        default:
          return this.wrongType('an integer', t, where);
      }
    }
    if (v < min || v > max) this.outOfRange(v, kind, where);
    return v;
  }

  outOfRange(v: number | bigint, kind: string, where: string): never {
    throw tmeshError('E_RANGE', `${where}: decoded integer ${v} does not fit ${kind}`);
  }

  /** The 8 bytes after a uint 64 (0xcf) or int 64 (0xd3) type byte, as a bigint. */
  word64(t: number, where: string): bigint {
    const hi = this.be(4, where);
    const lo = this.be(4, where);
    if (t === 0xcf) {
      return hi < 0x200000 ? BigInt(hi * TWO_32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
    }
    const shi = hi | 0;
    if (shi >= -0x200000 && shi < 0x200000) return BigInt(shi * TWO_32 + lo);
    return (BigInt(shi) << 32n) | BigInt(lo);
  }

  /** Any integer encoding as a bigint in u64 (or with `signed`, i64) range. */
  int64(signed: boolean, where: string): bigint {
    const t = this.byte(where);
    let v: bigint;
    if (t < 0x80) return BigInt(t);
    if (t >= 0xe0) v = BigInt(t - 0x100);
    else {
      switch (t) {
        case 0xcc:
          return BigInt(this.be(1, where));
        case 0xcd:
          return BigInt(this.be(2, where));
        case 0xce:
          return BigInt(this.be(4, where));
        case 0xcf:
          v = this.word64(t, where);
          if (signed && v > I64_MAX) this.outOfRange(v, 'i64', where);
          return v;
        case 0xd0:
          v = BigInt((this.be(1, where) << 24) >> 24);
          break;
        case 0xd1:
          v = BigInt((this.be(2, where) << 16) >> 16);
          break;
        case 0xd2:
          v = BigInt(this.be(4, where) | 0);
          break;
        case 0xd3:
          v = this.word64(t, where);
          break;
        default:
          return this.wrongType('an integer', t, where);
      }
    }
    if (!signed && v < 0n) this.outOfRange(v, 'u64', where);
    return v;
  }

  /** float 32 or float 64 (either width), as a number; `single` rounds to f32. */
  float(single: boolean, where: string): number {
    const t = this.byte(where);
    const p = this.pos;
    const b = this.buf;
    if (t === 0xcb) {
      if (this.end - p < 8) this.truncated(8, where);
      if (LITTLE_ENDIAN) {
        f64b[0] = b[p + 7]!;
        f64b[1] = b[p + 6]!;
        f64b[2] = b[p + 5]!;
        f64b[3] = b[p + 4]!;
        f64b[4] = b[p + 3]!;
        f64b[5] = b[p + 2]!;
        f64b[6] = b[p + 1]!;
        f64b[7] = b[p]!;
      } else f64b.set(b.subarray(p, p + 8));
      this.pos = p + 8;
      return single ? Math.fround(f64[0]!) : f64[0]!;
    }
    if (t === 0xca) {
      if (this.end - p < 4) this.truncated(4, where);
      if (LITTLE_ENDIAN) {
        f32b[0] = b[p + 3]!;
        f32b[1] = b[p + 2]!;
        f32b[2] = b[p + 1]!;
        f32b[3] = b[p]!;
      } else f32b.set(b.subarray(p, p + 4));
      this.pos = p + 4;
      return f32[0]!;
    }
    return this.wrongType('a float 32 or float 64', t, where);
  }

  /** Length of a str (after its header), checked against the remaining bytes. */
  strLength(where: string): number {
    const t = this.byte(where);
    let len: number;
    if ((t & 0xe0) === 0xa0) len = t & 0x1f;
    else if (t === 0xd9) len = this.be(1, where);
    else if (t === 0xda) len = this.be(2, where);
    else if (t === 0xdb) len = this.be(4, where);
    else return this.wrongType('a str', t, where);
    if (this.end - this.pos < len) this.truncated(len, where);
    return len;
  }

  str(where: string): string {
    const len = this.strLength(where);
    return this.utf8(len, where);
  }

  /** Decode `len` bytes at the cursor as strict UTF-8 (E_INVALID_UTF8 on any malformed sequence). */
  utf8(len: number, where: string): string {
    const b = this.buf;
    const start = this.pos;
    const end = start + len;
    if (len <= 16) {
      let ascii = true;
      for (let i = start; i < end; i++) {
        if (b[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        this.pos = end;
        return len <= 8 ? ascii8(b, start, len) : ascii8(b, start, 8) + ascii8(b, start + 8, len - 8);
      }
    }
    try {
      const s = textDecoder.decode(b.subarray(start, end));
      this.pos = end;
      return s;
    } catch (cause) {
      throw tmeshError(
        'E_INVALID_UTF8',
        `${where}: ${len} string bytes at payload offset ${start} are not valid UTF-8`,
        {
          cause,
        },
      );
    }
  }

  /** True, consuming it, when the bytes at the cursor equal `encoded` (a pre-encoded str key). */
  matches(encoded: Uint8Array): boolean {
    const n = encoded.length;
    const p = this.pos;
    if (this.end - p < n) return false;
    const b = this.buf;
    for (let i = 0; i < n; i++) if (b[p + i] !== encoded[i]) return false;
    this.pos = p + n;
    return true;
  }

  bin(where: string): Uint8Array {
    const t = this.byte(where);
    let len: number;
    if (t === 0xc4) len = this.be(1, where);
    else if (t === 0xc5) len = this.be(2, where);
    else if (t === 0xc6) len = this.be(4, where);
    else return this.wrongType('a bin', t, where);
    const p = this.pos;
    if (this.end - p < len) this.truncated(len, where);
    this.pos = p + len;
    return this.copy ? this.buf.slice(p, p + len) : this.buf.subarray(p, p + len);
  }

  /** Element count of an array, checked (one byte per element at least) before anything is allocated. */
  arrayHeader(where: string): number {
    const t = this.byte(where);
    let n: number;
    if ((t & 0xf0) === 0x90) n = t & 0x0f;
    else if (t === 0xdc) n = this.be(2, where);
    else if (t === 0xdd) n = this.be(4, where);
    else return this.wrongType('an array', t, where);
    if (n > this.end - this.pos) this.truncated(n, where);
    return n;
  }

  /** Entry count of a map, checked (two bytes per entry at least) before anything is allocated. */
  mapHeader(where: string): number {
    const t = this.byte(where);
    let n: number;
    if ((t & 0xf0) === 0x80) n = t & 0x0f;
    else if (t === 0xde) n = this.be(2, where);
    else if (t === 0xdf) n = this.be(4, where);
    else return this.wrongType('a map', t, where);
    if (n * 2 > this.end - this.pos) this.truncated(n * 2, where);
    return n;
  }

  /** Skip one complete value of any type (an unknown struct key's value), iteratively. */
  skip(where: string): void {
    let pending = 1;
    while (pending > 0) {
      pending--;
      const t = this.byte(where);
      if (t < 0x80 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) continue;
      if (t < 0x90) pending += (t & 0x0f) * 2;
      else if (t < 0xa0) pending += t & 0x0f;
      else if (t < 0xc0) this.advance(t & 0x1f, where);
      else {
        switch (t) {
          case 0xc4:
          case 0xd9:
            this.advance(this.be(1, where), where);
            break;
          case 0xc5:
          case 0xda:
            this.advance(this.be(2, where), where);
            break;
          case 0xc6:
          case 0xdb:
            this.advance(this.be(4, where), where);
            break;
          case 0xc7:
            this.advance(this.be(1, where) + 1, where);
            break;
          case 0xc8:
            this.advance(this.be(2, where) + 1, where);
            break;
          case 0xc9:
            this.advance(this.be(4, where) + 1, where);
            break;
          case 0xca:
          case 0xce:
          case 0xd2:
            this.advance(4, where);
            break;
          case 0xcb:
          case 0xcf:
          case 0xd3:
            this.advance(8, where);
            break;
          case 0xcc:
          case 0xd0:
            this.advance(1, where);
            break;
          case 0xcd:
          case 0xd1:
            this.advance(2, where);
            break;
          case 0xd4:
            this.advance(2, where);
            break;
          case 0xd5:
            this.advance(3, where);
            break;
          case 0xd6:
            this.advance(5, where);
            break;
          case 0xd7:
            this.advance(9, where);
            break;
          case 0xd8:
            this.advance(17, where);
            break;
          case 0xdc:
            pending += this.be(2, where);
            break;
          case 0xdd:
            pending += this.be(4, where);
            break;
          case 0xde:
            pending += this.be(2, where) * 2;
            break;
          case 0xdf:
            pending += this.be(4, where) * 2;
            break;
          default:
            // 0xc1 is never used by MessagePack.
            this.wrongType('a MessagePack value', t, where);
        }
      }
      // Every pending value needs at least one byte: fail now rather than loop over a lying count.
      if (pending > this.end - this.pos) this.truncated(pending, where);
    }
  }

  advance(n: number, where: string): void {
    if (this.end - this.pos < n) this.truncated(n, where);
    this.pos += n;
  }
}
