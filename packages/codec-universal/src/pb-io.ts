import { GATHER_MIN_BYTES, tmeshError } from '@tmesh/core';
import protobuf from 'protobufjs';

// protobufjs 8 reads and writes int64 as Long (and `encode({x: 5n})` silently writes 0). These two
// subclasses of its Reader and Writer speak bigint instead, so the Types generated from a schema read
// and write our API values directly, with no Long on the hot path. They also tighten decoding: a bool
// must be 0 or 1, strings must be valid UTF-8, and bytes fields are plain Uint8Array views of the input.

const U64_MASK = 0xffffffffffffffffn;

function truncated(reader: protobuf.Reader, need: number): never {
  throw tmeshError(
    'E_FRAME_TRUNCATED',
    `protobuf payload: ${need} bytes needed at offset ${reader.pos}, ${reader.len - reader.pos} left`,
  );
}

/** Read a varint of up to 10 bytes as an unsigned 64-bit bigint. */
function readVarint64(r: protobuf.Reader): bigint {
  const buf = r.buf;
  const len = r.len;
  let pos = r.pos;
  let lo = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= len) truncated(r, 1);
    const b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) {
      r.pos = pos;
      return BigInt(lo >>> 0);
    }
  }
  // Bytes 5..10: collect the rest as a bigint (rare: values >= 2^28).
  let value = BigInt(lo >>> 0);
  for (let shift = 28n; shift < 70n; shift += 7n) {
    if (pos >= len) truncated(r, 1);
    const b = buf[pos++]!;
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) {
      if (shift === 63n && b > 1) break;
      r.pos = pos;
      return value & U64_MASK;
    }
  }
  r.pos = pos;
  throw tmeshError(
    'E_VARINT_OVERFLOW',
    `protobuf payload: varint at offset ${pos} is longer than 10 bytes or overflows 64 bits`,
  );
}

/** A protobufjs Reader that returns bigint for 64-bit fields and refuses bad bools and bad UTF-8. */
export class StrictReader extends protobuf.Reader {
  /** Point this reader at `buf[start, end)` (a reader reused for many payloads). */
  at(buf: Uint8Array, start: number, end: number): this {
    const self = this as unknown as { buf: Uint8Array; pos: number; len: number; view: unknown };
    self.buf = buf;
    self.pos = start;
    self.len = end;
    self.view = null;
    return this;
  }

  override uint64(): any {
    return readVarint64(this);
  }

  override int64(): any {
    return BigInt.asIntN(64, readVarint64(this));
  }

  override bool(): boolean {
    const pos = this.pos;
    const v = this.uint32();
    if (v > 1)
      throw tmeshError('E_INVALID_BOOL', `protobuf payload: bool at offset ${pos} is ${v}, expected 0 or 1`);
    return v === 1;
  }

  override bools(array: boolean[] = []): boolean[] {
    const end = this.size() + this.pos;
    if (end > this.len) truncated(this, end - this.pos);
    const outer = this.len;
    this.len = end;
    while (this.pos < end) array.push(this.bool());
    this.len = outer;
    return array;
  }

  override bytes(): Uint8Array {
    const length = this.size();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) truncated(this, length);
    this.pos = end;
    const buf = this.buf;
    return new Uint8Array(buf.buffer, buf.byteOffset + start, length);
  }

  override stringVerify(): string {
    const length = this.size();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) truncated(this, length);
    this.pos = end;
    return readUtf8(this.buf, start, end);
  }

  override string(): string {
    return this.stringVerify();
  }
}

const pbUtf8 = (
  protobuf.util as unknown as { utf8: { readStrict(buf: Uint8Array, start: number, end: number): string } }
).utf8;

/**
 * Decode UTF-8 strictly (E_INVALID_UTF8 on bad bytes): protobufjs' reader, which builds short ASCII
 * strings eight characters at a time and hands anything else to a fatal TextDecoder.
 */
export function readUtf8(buf: Uint8Array, start: number, end: number): string {
  try {
    return pbUtf8.readStrict(buf, start, end);
  } catch (cause) {
    throw tmeshError('E_INVALID_UTF8', `protobuf payload: string at offset ${start} is not valid UTF-8`, {
      cause,
    });
  }
}

type Writer = protobuf.Writer & { _reserve(n: number): void; buf: Uint8Array; pos: number };

function writeVarint64(w: Writer, v: bigint): void {
  if (v >= 0n && v <= 0xffffffffn) {
    w.uint32(Number(v));
    return;
  }
  let u = BigInt.asUintN(64, v);
  w._reserve(10);
  const buf = w.buf;
  let pos = w.pos;
  let lo = Number(u & 0xffffffffn);
  let hi = Number(u >> 32n);
  u = 0n;
  while (hi) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  buf[pos++] = lo;
  w.pos = pos;
}

/** Bytes of a varint of `value` (< 2^32). */
function varint32Size(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

function toBig(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  // Map keys of 64-bit maps reach the writer as decimal strings (protobufjs keys maps by string).
  if (typeof v === 'string') return BigInt(v);
  if (typeof v === 'number') return BigInt(v);
  throw tmeshError('E_ENCODE_INVALID_VALUE', `64-bit field: expected a bigint, got ${typeof v}`);
}

/**
 * A protobufjs (Buffer)Writer that writes bigint 64-bit values, kept and reused by a codec: `restart()`
 * rewinds it without giving up its grown buffer.
 *
 * Gather mode (`gather`, for `encodeParts`): a bytes value of at least `GATHER_MIN_BYTES` is not copied.
 * Its length prefix is written, and `refs` records (position in `buf` where its bytes stand, the array);
 * `refBytes` sums their lengths. Enclosing messages (fork / ldelim) count those bytes in their lengths
 * and positions of later refs move with the bytes ldelim shifts.
 */
export class BigintWriter extends protobuf.BufferWriter {
  /** Leave big bytes values out (see the class doc). */
  gather = false;
  /** Pairs (position in `buf`, the caller's array), in increasing position order. */
  refs: (number | Uint8Array)[] = [];
  /** Sum of the lengths of the arrays in `refs`. */
  refBytes = 0;
  /** `refBytes` at each open fork (parallel to protobufjs' `states`). */
  #marks: number[] = [];
  /** True while a frame encode runs on this writer (a getter that encodes again gets another). */
  busy = false;

  override bytes(value: any): this {
    if (this.gather && value instanceof Uint8Array && value.length >= GATHER_MIN_BYTES) {
      this.uint32(value.length);
      const self = this as unknown as Writer;
      this.refs.push(self.pos, value);
      this.refBytes += value.length;
      return this;
    }
    super.bytes(value);
    return this;
  }

  override fork(): this {
    super.fork();
    if (this.gather) this.#marks.push(this.refBytes);
    return this;
  }

  override reset(): this {
    super.reset();
    if (this.gather) this.#marks.pop();
    return this;
  }

  override ldelim(): this {
    if (!this.gather) return super.ldelim() as this;
    const self = this as unknown as Writer & { states: number[] | null };
    const mark = this.#marks.pop() ?? 0;
    const extra = this.refBytes - mark;
    if (extra === 0 || !self.states || self.states.length === 0) return super.ldelim() as this;
    // The message's length includes the referenced bytes, which are not in `buf`.
    const lenPos = self.states.pop()!;
    const inBuf = self.pos - lenPos - 1;
    const len = inBuf + extra;
    const vlen = varint32Size(len);
    if (vlen > 1) {
      self._reserve(vlen - 1);
      const buf = self.buf;
      buf.copyWithin(lenPos + vlen, lenPos + 1, lenPos + 1 + inBuf);
      self.pos += vlen - 1;
      const refs = this.refs;
      for (let i = refs.length - 2; i >= 0 && (refs[i] as number) > lenPos; i -= 2) {
        refs[i] = (refs[i] as number) + vlen - 1;
      }
    }
    let pos = lenPos;
    let v = len;
    const buf = self.buf;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos] = v;
    return this;
  }
  override uint64(value: any): this {
    writeVarint64(this as unknown as Writer, toBig(value));
    return this;
  }

  override int64(value: any): this {
    writeVarint64(this as unknown as Writer, toBig(value));
    return this;
  }

  override uint64s(values: any[]): this {
    this.fork();
    for (const v of values) writeVarint64(this as unknown as Writer, toBig(v));
    return this.ldelim() as this;
  }

  override int64s(values: any[]): this {
    return this.uint64s(values);
  }

  /** Forget what was written (and any open fork, and gather state), keeping the buffer. */
  restart(pos = 0): this {
    const self = this as unknown as Writer & { states: number[] | null };
    self.pos = pos;
    self.states = null;
    if (this.refs.length > 0) this.refs = [];
    this.refBytes = 0;
    if (this.#marks.length > 0) this.#marks = [];
    return this;
  }

  /** The bytes written so far, as a view of the reused buffer (valid until the next write). */
  written(): Uint8Array {
    const self = this as unknown as Writer;
    return self.buf.subarray(0, self.pos);
  }

  /** Give up the buffer (the caller keeps a view of it); the next write starts a fresh one. */
  detach(): void {
    const self = this as unknown as Writer & { view: DataView | null };
    self.buf = Buffer.allocUnsafe(256);
    self.view = null;
    self.pos = 0;
  }

  /** Drop a buffer that grew past `limit` bytes, so one huge message does not pin memory forever. */
  shrink(limit: number): void {
    const self = this as unknown as Writer & { view: DataView | null };
    if (self.buf.length > limit) {
      self.buf = Buffer.allocUnsafe(256);
      self.view = null;
    }
  }
}

/** Thrown by a {@link BoundedWriter} that ran out of room (caught by the codec, never escapes). */
export const NO_ROOM: unique symbol = Symbol('tmesh universal: no room');

/**
 * A writer bound to a caller's buffer (`encodeFrameInto`): it never grows; a write that does not fit
 * records the end position it needed in `need` and throws {@link NO_ROOM}.
 */
export class BoundedWriter extends BigintWriter {
  /** The end position the write that did not fit asked for. */
  need = 0;

  /** Write into `buf` from `pos` on (a Buffer: protobufjs writes long strings with Buffer#utf8Write). */
  bind(buf: Buffer, pos: number): this {
    const self = this as unknown as Writer & { view: unknown };
    self.buf = buf;
    self.view = null;
    return this.restart(pos);
  }

  _reserve(n: number): void {
    const self = this as unknown as Writer;
    if (self.pos + n > self.buf.length) {
      this.need = self.pos + n;
      throw NO_ROOM;
    }
  }
}
