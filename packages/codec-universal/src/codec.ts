import * as zlib from 'node:zlib';
import {
  crc32,
  crc32Range,
  DEFAULT_MAX_FRAME_SIZE,
  type DecodedMessage,
  FRAME_FLAGS,
  FrameAssembly,
  type FrameDecoderOptions,
  type FrameHeader,
  gatherParts,
  type MessageDecoder,
  type MessageRegistry,
  type MessageType,
  PROTOCOL_VERSION,
  type Schema,
  tmeshError,
  type WireCodec,
  type WireEncodeOptions,
} from '@tmesh/core';
import { FIELD, readVarint, varint, varintSize, writeVarint } from './envelope.js';
import { compileUniversal, type UniversalPayloadCodec } from './payload.js';
import { BigintWriter, BoundedWriter, NO_ROOM, readUtf8 } from './pb-io.js';

/** The envelope version this build writes and accepts. */
export const UNIVERSAL_VERSION = PROTOCOL_VERSION;

/**
 * How envelope payloads are compressed, by the flag value of the algorithm (1 deflate, 2 zstd, 3 lz4;
 * docs/PROTOCOL.md section 7.9). The default knows deflate only; @tmesh/net passes hooks that add zstd
 * and lz4 from the native addon (this package cannot depend on it: both are layer 1).
 */
export interface EnvelopeCompression {
  compress(algorithm: number, payload: Uint8Array): Uint8Array;
  /** The payload decompressed, at most `maxSize` bytes (E_COMPRESSION otherwise, before allocating it). */
  decompress(algorithm: number, payload: Uint8Array, maxSize: number): Uint8Array;
}

/** Options of {@link createUniversalCodec}. */
export interface UniversalCodecOptions {
  /** Largest frame (length prefix + envelope) `decode` accepts; default 64 MiB. Decoders take their own. */
  maxFrameSize?: number;
  /** Payload compression (default: deflate only). Decoders may take their own. */
  compression?: EnvelopeCompression;
}

/** Options of a universal stream decoder. */
export interface UniversalDecoderOptions extends FrameDecoderOptions {
  copy?: boolean;
  /** How this decoder decompresses (default: the codec's); e.g. only what a link negotiated. */
  compression?: EnvelopeCompression;
}

/**
 * A universal stream decoder that can also take reads straight into the frame it is assembling (a socket
 * reading into `target()` instead of a buffer of its own: one copy less for big frames).
 */
export interface UniversalMessageDecoder extends MessageDecoder {
  /**
   * The unfilled rest of the frame being assembled (its length prefix read and checked) when at least
   * `min` bytes of it are missing, else undefined. It is leased to one read until `filled`; a chunk
   * pushed meanwhile moves the frame to a new buffer first, so a late read never touches a decoded frame.
   */
  target(min: number): Uint8Array | undefined;
  /**
   * `n` bytes were read into `buf`: the last `target()` (they extend the frame, decoded once complete) or
   * a buffer of the caller's own (read as a pushed chunk). Returns the messages they complete.
   */
  filled(buf: Uint8Array, n: number): DecodedMessage[];
  /**
   * The caller is done with the messages returned last. With `reuse`, nothing refers to their bytes any
   * more, and the buffer of a frame among them that spanned pushes or reads may hold the next big frame
   * (see core's `FrameAssembly.release`); bytes fields decoded in place are views of that buffer, so pass
   * `reuse` only when that is true.
   */
  release(reuse: boolean): void;
}

/** The universal wire codec: a `WireCodec` plus what only this wire has. */
export interface UniversalCodec extends WireCodec {
  readonly wire: 'universal';
  /** The protobuf payload codec of a struct or union schema (compiled once, cached). */
  compile<T>(schema: Schema<T>): UniversalPayloadCodec<T>;
  /** A stream decoder with its own frame limit and, optionally, its own decompression. */
  createDecoder(options?: UniversalDecoderOptions): UniversalMessageDecoder;
  /**
   * One frame as the parts of a gather write (see `WireCodec.encodeParts`): bytes fields of at least
   * `GATHER_MIN_BYTES` are the caller's arrays, not copies, and must stay unchanged until written (or
   * be resealed). With compression in the flags, the frame is one compressed array.
   */
  encodeParts<T>(type: MessageType<T>, value: T, options?: WireEncodeOptions): Uint8Array[];
  /**
   * `encodeParts` for a caller that takes either shape: a frame with nothing referenced is one array
   * (as from `encode`), not an array of one part.
   */
  encodeGather<T>(type: MessageType<T>, value: T, options?: WireEncodeOptions): Uint8Array | Uint8Array[];
  /**
   * Encode one frame straight into `buf` at `at` (a sender's write buffer: no frame array, no copy);
   * returns its end, the bytes `encode` writes lying at `buf[at, end)`. When the frame does not fit
   * before `buf.length`, returns `-need`: the room the encoder asked for (more than `buf.length - at`),
   * an estimate of the frame's size; bytes of `buf` from `at` on may then have been overwritten, nothing
   * else. Big bytes fields are copied (use `encodeParts` for those). `buf` must be a Buffer.
   */
  encodeFrameInto<T>(
    type: MessageType<T>,
    value: T,
    options: WireEncodeOptions,
    buf: Uint8Array,
    at: number,
  ): number;
  /**
   * Recompute the payload CRC-32 of a frame from `encodeParts` whose referenced arrays may have changed
   * since (before writing it again); returns true if the checksum changed.
   */
  resealParts(parts: readonly Uint8Array[]): boolean;
}

const TAG_VERSION = (FIELD.version << 3) | 0;
const TAG_MESSAGE_TYPE = (FIELD.messageType << 3) | 0;
const TAG_FLAGS = (FIELD.flags << 3) | 0;
const TAG_SEQUENCE = (FIELD.sequence << 3) | 0;
const TAG_TIMESTAMP = (FIELD.timestamp << 3) | 0;
const TAG_SOURCE = (FIELD.source << 3) | 2;
const TAG_DESTINATION = (FIELD.destination << 3) | 2;
const TAG_TYPE_NAME = (FIELD.typeName << 3) | 2;
const TAG_COMPRESSION = (FIELD.compression << 3) | 0;
const TAG_CHECKSUM = (FIELD.checksum << 3) | 5;
const TAG_PAYLOAD = (FIELD.payload << 3) | 2;

/** Per message type: its payload codec and the constant envelope bytes (message_type, type_name). */
interface TypeEntry {
  type: MessageType<any>;
  payload: UniversalPayloadCodec<any>;
  /** Fields 1 (version) and 2 (message_type), the start of every envelope of this type. */
  lead: Uint8Array;
  /** Field 8 (type_name). */
  nameBytes: Uint8Array;
  /** The UTF-8 of the type name alone. */
  rawName: Uint8Array;
  /**
   * The envelope's middle (timestamp, source, destination, type_name) last built for this type and what
   * it was built from: a link alternates a few types (its messages, ReplyTo, Ack), each keeps its own.
   */
  mid: { timestamp: number; source: Uint8Array; destination: Uint8Array; bytes: Uint8Array };
}

/** How many recently used types the encoder and the decoder check before a map lookup. */
const RECENT_TYPES = 8;

function utf8(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

function fieldString(tag: number, s: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + varintSize(s.length) + s.length);
  out[0] = tag;
  out.set(s, writeVarint(out, 1, s.length));
  return out;
}

/** The header values of an encode, each in its range (E_RANGE otherwise). */
function checkHeader(flags: number, sequence: number, timestamp: number): void {
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff)
    throw tmeshError('E_RANGE', `universal frame: flags ${flags} do not fit u16`);
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > 0xffffffff) {
    throw tmeshError('E_RANGE', `universal frame: sequence ${sequence} does not fit u32`);
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw tmeshError(
      'E_RANGE',
      `universal frame: timestamp ${timestamp} must be a non-negative safe integer (ms)`,
    );
  }
}

function checkMax(max: unknown, what: string): number {
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 2) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `${what}: maxFrameSize must be an integer >= 2, got ${String(max)}`,
    );
  }
  return max;
}

/** An id string for source or destination: cached so a steady sender encodes it once. */
class IdField {
  #last = '';
  #bytes: Uint8Array = new Uint8Array(0);
  constructor(
    readonly tag: number,
    readonly what: string,
  ) {}
  bytes(value: string | undefined): Uint8Array {
    if (value === undefined || value === '') return EMPTY;
    if (value === this.#last) return this.#bytes;
    if (typeof value !== 'string' || !(value as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      throw tmeshError('E_INVALID_ARGUMENT', `universal frame: ${this.what} must be a well-formed string`);
    }
    this.#bytes = fieldString(this.tag, utf8(value));
    this.#last = value;
    return this.#bytes;
  }
}

const EMPTY = new Uint8Array(0);

/** Bytes of a fresh frame slab: small frames are carved out of it one after another. */
const SLAB_BYTES = 64 * 1024;
/** A slab with less room than this left is replaced before the next frame. */
const SLAB_MIN_FREE = 1024;

/**
 * The writer frames are encoded into: a slab that frames are written into back to back, like codec-rust's
 * SlabWriter. Each encode returns a view of exactly its bytes and the next frame starts after them, so a
 * frame is never overwritten and never copied out; a slab lives on only as long as frames that view it.
 * The payload goes after room reserved for the envelope fields, which are filled in once its size and
 * CRC-32 are known. (The payload codec's own `encode` uses a different writer, which it rewinds.)
 */
const frameWriter = new BigintWriter();
/** Where the next frame may start in `frameWriter.buf`. */
let slabStart = 0;
/** Size of the last frame encoded, to keep a slab from being grown (copied) by the next one. */
let lastFrameBytes = 0;

/** The writer `encodeFrameInto` binds to the caller's buffer. */
const boundWriter = new BoundedWriter();
const EMPTY_BUFFER = Buffer.alloc(0);

type SlabWriter = BigintWriter & { buf: Buffer; pos: number; view: unknown; _reserve(n: number): void };

function freshSlab(w: SlabWriter): void {
  w.buf = Buffer.allocUnsafe(SLAB_BYTES);
  w.view = null;
  slabStart = 0;
}

/** Bytes of the envelope fields 1-10 (everything before the payload field). */
function headSize(
  e: TypeEntry,
  flags: number,
  sequence: number,
  mid: Uint8Array,
  compression: number,
): number {
  return (
    e.lead.length +
    (flags ? 1 + varintSize(flags) : 0) +
    (sequence ? 1 + varintSize(sequence) : 0) +
    mid.length +
    (compression ? 2 : 0) +
    5
  );
}

/**
 * Write the length prefix, envelope fields 1-10 and the payload field's tag and length; returns the end.
 * `mid` holds fields 5-8 (timestamp, source, destination, type_name) as they are written.
 */
function writeHead(
  buf: Uint8Array,
  pos: number,
  lead: Uint8Array,
  flags: number,
  sequence: number,
  mid: Uint8Array,
  compression: number,
  crc: number,
  envLen: number,
  n: number,
): number {
  pos = writeVarint(buf, pos, envLen);
  for (let i = 0; i < lead.length; i++) buf[pos++] = lead[i]!;
  if (flags) {
    buf[pos++] = TAG_FLAGS;
    pos = writeVarint(buf, pos, flags);
  }
  if (sequence) {
    buf[pos++] = TAG_SEQUENCE;
    pos = writeVarint(buf, pos, sequence);
  }
  for (let i = 0; i < mid.length; i++) buf[pos++] = mid[i]!;
  if (compression) {
    buf[pos++] = TAG_COMPRESSION;
    buf[pos++] = compression;
  }
  buf[pos++] = TAG_CHECKSUM;
  buf[pos++] = crc & 0xff;
  buf[pos++] = (crc >>> 8) & 0xff;
  buf[pos++] = (crc >>> 16) & 0xff;
  buf[pos++] = crc >>> 24;
  if (n) {
    buf[pos++] = TAG_PAYLOAD;
    pos = writeVarint(buf, pos, n);
  }
  return pos;
}

/**
 * CRC-32 of a payload given as `buf[start, end)` with the arrays of `refs` (pairs: position in `buf`,
 * array) standing at their positions, as a gather write sends it.
 */
function gatherCrc(
  buf: Uint8Array,
  start: number,
  end: number,
  refs: readonly (number | Uint8Array)[],
): number {
  let crc = 0;
  let at = start;
  for (let i = 0; i < refs.length; i += 2) {
    const pos = refs[i] as number;
    if (pos > at) crc = crc32Range(buf, at, pos, crc);
    crc = crc32(refs[i + 1] as Uint8Array, crc);
    at = pos;
  }
  return end > at ? crc32Range(buf, at, end, crc) : crc;
}

/**
 * Where the payload of a universal frame given as parts starts in `parts[0]`, and where its checksum
 * field's 4 bytes are: reads the envelope fields before the payload field.
 */
function locateParts(first: Uint8Array): { checksumAt: number; payloadAt: number } {
  if (!readVarint(first, 0, first.length)) throw badParts('length prefix');
  let pos = varint.pos;
  let checksumAt = -1;
  while (pos < first.length) {
    if (!readVarint(first, pos, first.length)) throw badParts('tag');
    const tag = varint.lo;
    pos = varint.pos;
    if (tag === TAG_PAYLOAD) {
      if (!readVarint(first, pos, first.length)) throw badParts('payload length');
      if (checksumAt < 0) throw badParts('checksum');
      return { checksumAt, payloadAt: varint.pos };
    }
    switch (tag & 7) {
      case 0:
        if (!readVarint(first, pos, first.length)) throw badParts('field');
        pos = varint.pos;
        break;
      case 2:
        if (!readVarint(first, pos, first.length)) throw badParts('field');
        pos = varint.pos + varint.lo;
        break;
      case 5:
        if (tag === TAG_CHECKSUM) checksumAt = pos;
        pos += 4;
        break;
      default:
        throw badParts(`wire type ${tag & 7}`);
    }
  }
  throw badParts('payload field');
}

function badParts(what: string): Error {
  return tmeshError('E_INVALID_ARGUMENT', `universal resealParts: parts[0] is not a frame head (${what})`);
}

class UniversalCodecImpl implements UniversalCodec {
  readonly wire = 'universal' as const;
  readonly registry: MessageRegistry;
  readonly maxFrameSize: number;
  readonly compression: EnvelopeCompression;
  readonly #types = new Map<MessageType<any>, TypeEntry>();
  readonly #source = new IdField(TAG_SOURCE, 'source');
  readonly #destination = new IdField(TAG_DESTINATION, 'destination');
  /** Types encoded or decoded lately (newest first), checked before the map and the registry. */
  readonly #recent: (TypeEntry | undefined)[] = new Array(RECENT_TYPES).fill(undefined);

  constructor(registry: MessageRegistry, options: UniversalCodecOptions) {
    this.registry = registry;
    this.maxFrameSize = checkMax(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 'createUniversalCodec');
    this.compression = options.compression ?? DEFLATE_ONLY;
  }

  compile<T>(schema: Schema<T>): UniversalPayloadCodec<T> {
    return compileUniversal(schema);
  }

  entry(type: MessageType<any>): TypeEntry {
    // A sender repeats a few types: check the recent ones before the map.
    const recent = this.#recent;
    for (let i = 0; i < RECENT_TYPES; i++) {
      const r = recent[i];
      if (r === undefined) break;
      if (r.type === type) return r;
    }
    let e = this.#types.get(type);
    if (e) {
      this.#remember(e);
      return e;
    }
    const registered = this.registry.byName(type?.name);
    if (registered !== type && registered.schema.desc !== type.schema.desc) {
      throw tmeshError(
        'E_UNKNOWN_MESSAGE_TYPE',
        `message type ${type.name} differs from the one registered under that name`,
      );
    }
    const lead = new Uint8Array(3 + varintSize(type.id));
    lead[0] = TAG_VERSION;
    lead[1] = UNIVERSAL_VERSION;
    lead[2] = TAG_MESSAGE_TYPE;
    writeVarint(lead, 3, type.id);
    const rawName = utf8(type.name);
    e = {
      type,
      payload: compileUniversal(type.schema),
      lead,
      nameBytes: fieldString(TAG_TYPE_NAME, rawName),
      rawName,
      mid: { timestamp: -1, source: EMPTY, destination: EMPTY, bytes: EMPTY },
    };
    this.#types.set(type, e);
    this.#remember(e);
    return e;
  }

  encode<T>(type: MessageType<T>, value: T, options: WireEncodeOptions = {}): Uint8Array {
    return this.#encode(type, value, options, false) as Uint8Array;
  }

  encodeParts<T>(type: MessageType<T>, value: T, options: WireEncodeOptions = {}): Uint8Array[] {
    const parts = this.#encode(type, value, options, true);
    return Array.isArray(parts) ? parts : [parts];
  }

  encodeGather<T>(
    type: MessageType<T>,
    value: T,
    options: WireEncodeOptions = {},
  ): Uint8Array | Uint8Array[] {
    return this.#encode(type, value, options, true);
  }

  resealParts(parts: readonly Uint8Array[]): boolean {
    if (parts.length < 2) return false; // one array: the codec's own bytes, nobody else changes them
    const first = parts[0]!;
    const { checksumAt, payloadAt } = locateParts(first);
    let crc = payloadAt < first.length ? crc32Range(first, payloadAt, first.length) : 0;
    for (let i = 1; i < parts.length; i++) crc = crc32(parts[i]!, crc);
    const old =
      (first[checksumAt]! |
        (first[checksumAt + 1]! << 8) |
        (first[checksumAt + 2]! << 16) |
        (first[checksumAt + 3]! << 24)) >>>
      0;
    if (old === crc) return false;
    first[checksumAt] = crc & 0xff;
    first[checksumAt + 1] = (crc >>> 8) & 0xff;
    first[checksumAt + 2] = (crc >>> 16) & 0xff;
    first[checksumAt + 3] = crc >>> 24;
    return true;
  }

  /**
   * Fields 5-8 (timestamp, source, destination, type_name) as written, cached: a link stamps many
   * frames of one type with the same millisecond and the same ids.
   */
  #mid(timestamp: number, source: Uint8Array, destination: Uint8Array, e: TypeEntry): Uint8Array {
    const cached = e.mid;
    if (timestamp === cached.timestamp && source === cached.source && destination === cached.destination) {
      return cached.bytes;
    }
    const tsSize = timestamp === 0 ? 0 : 1 + varintSize(timestamp);
    const name = e.nameBytes;
    const mid = new Uint8Array(tsSize + source.length + destination.length + name.length);
    if (tsSize > 0) {
      mid[0] = TAG_TIMESTAMP;
      writeVarint(mid, 1, timestamp);
    }
    mid.set(source, tsSize);
    mid.set(destination, tsSize + source.length);
    mid.set(name, tsSize + source.length + destination.length);
    cached.timestamp = timestamp;
    cached.source = source;
    cached.destination = destination;
    cached.bytes = mid;
    return mid;
  }

  /** Put `e` first among the recent types (see RECENT_TYPES). */
  #remember(e: TypeEntry): void {
    const recent = this.#recent;
    let i = recent.indexOf(e);
    if (i < 0) i = RECENT_TYPES - 1;
    for (; i > 0; i--) recent[i] = recent[i - 1];
    recent[0] = e;
  }

  /**
   * Encode one frame into the slab writer: a view of it, or with `gather` (and no compression) the parts
   * of a gather write, big bytes fields being the caller's arrays.
   */
  #encode<T>(
    type: MessageType<T>,
    value: T,
    options: WireEncodeOptions,
    gather: boolean,
  ): Uint8Array | Uint8Array[] {
    const e = this.entry(type);
    // Read before the value is encoded (a getter may encode again with other options).
    const flags = options.flags ?? 0;
    const sequence = options.sequence ?? 0;
    const timestamp = options.timestamp ?? Date.now();
    checkHeader(flags, sequence, timestamp);
    const source = this.#source.bytes(options.source);
    const destination = this.#destination.bytes(options.destination);
    const compression = flags & FRAME_FLAGS.COMPRESSION_MASK;
    const mid = this.#mid(timestamp, source, destination, e);
    // Everything before the payload field except the two lengths is known now: reserve room for it in
    // the slab, encode the payload after that room, then fill the envelope in right before it.
    const fixed = headSize(e, flags, sequence, mid, compression);
    const room = fixed + 1 + 5 + 5; // + payload tag, payload length, envelope length (< 2^35: 5 bytes)
    const shared = !frameWriter.busy;
    const w = (shared ? frameWriter : new BigintWriter()) as SlabWriter;
    w.busy = true;
    try {
      let at = 0;
      if (shared) {
        if (w.buf.length - slabStart < Math.max(SLAB_MIN_FREE, room + 2 * lastFrameBytes)) freshSlab(w);
        at = slabStart;
      }
      const payStart = at + room;
      w.restart(payStart);
      w._reserve(0);
      w.gather = gather && compression === FRAME_FLAGS.COMPRESSION_NONE;
      e.payload.writeTo(value, w);
      const end = w.pos;
      const buf = w.buf;
      if (compression !== FRAME_FLAGS.COMPRESSION_NONE) {
        // The compressed frame is a fresh array; the slab space used stays free for the next frame.
        const payload = this.compression.compress(compression, buf.subarray(payStart, end));
        const n = payload.length;
        const envLen = fixed + (n ? 1 + varintSize(n) + n : 0);
        const frame = Buffer.allocUnsafe(varintSize(envLen) + envLen);
        const crc = crc32(payload);
        const p = writeHead(frame, 0, e.lead, flags, sequence, mid, compression, crc, envLen, n);
        frame.set(payload, p);
        return frame;
      }
      const refs = w.refs;
      const n = end - payStart + w.refBytes;
      const crc = refs.length === 0 ? crc32Range(buf, payStart, end) : gatherCrc(buf, payStart, end, refs);
      const envLen = fixed + (n ? 1 + varintSize(n) : 0) + n;
      if (envLen > 0x7ffffffff) {
        throw tmeshError('E_FRAME_TOO_LARGE', `universal frame of ${envLen} bytes does not fit its envelope`);
      }
      const start = payStart - (varintSize(envLen) + envLen - n);
      writeHead(buf, start, e.lead, flags, sequence, mid, 0, crc, envLen, n);
      // A Buffer view, as `encode` has always returned a Buffer (grpc-js, for one, needs one).
      const frame = buf.subarray(start, end);
      if (shared) {
        lastFrameBytes = end - at;
        slabStart = (end + 7) & ~7;
        // A slab a big frame grew is left to that frame.
        if (buf.length !== SLAB_BYTES) freshSlab(w);
      }
      if (refs.length === 0) return frame;
      for (let i = 0; i < refs.length; i += 2) refs[i] = (refs[i] as number) - start;
      return gatherParts(frame, refs);
    } finally {
      w.busy = false;
      w.gather = false;
      if (w.refs.length > 0) w.restart(w.pos);
    }
  }

  encodeFrameInto<T>(
    type: MessageType<T>,
    value: T,
    options: WireEncodeOptions,
    buf: Uint8Array,
    at: number,
  ): number {
    const e = this.entry(type);
    // Read before the value is encoded (a getter may encode again with other options).
    const flags = options.flags ?? 0;
    const sequence = options.sequence ?? 0;
    const timestamp = options.timestamp ?? Date.now();
    const source = this.#source.bytes(options.source);
    const destination = this.#destination.bytes(options.destination);
    checkHeader(flags, sequence, timestamp);
    if (!Buffer.isBuffer(buf) || !Number.isInteger(at) || at < 0 || at > buf.length) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        `universal encodeFrameInto: needs a Buffer and an offset within it, got offset ${at}`,
      );
    }
    const compression = flags & FRAME_FLAGS.COMPRESSION_MASK;
    if (compression !== FRAME_FLAGS.COMPRESSION_NONE) {
      const frame = this.encode(type, value, options);
      if (frame.length > buf.length - at) return -frame.length;
      buf.set(frame, at);
      return at + frame.length;
    }
    const mid = this.#mid(timestamp, source, destination, e);
    const fixed = headSize(e, flags, sequence, mid, 0);
    // Guess one-byte envelope and payload lengths (frames under 128 bytes); move the payload if wrong.
    const guess = 1 + fixed + 2;
    const shared = !boundWriter.busy;
    const w = shared ? boundWriter : new BoundedWriter();
    w.busy = true;
    let end: number;
    try {
      if (buf.length - at < guess) return -guess;
      w.bind(buf, at + guess);
      e.payload.writeTo(value, w);
      end = (w as unknown as { pos: number }).pos;
    } catch (error) {
      // (+ 8: the two lengths may take more than the one byte each that was guessed.)
      if (error === NO_ROOM) return -(w.need - at + 8);
      throw error;
    } finally {
      w.busy = false;
      w.bind(EMPTY_BUFFER, 0); // do not keep the caller's buffer
    }
    const payStart = at + guess;
    const n = end - payStart;
    const crc = crc32Range(buf, payStart, end);
    const envLen = fixed + (n ? 1 + varintSize(n) : 0) + n;
    const headLen = varintSize(envLen) + envLen - n;
    if (headLen !== guess) {
      const frameEnd = at + headLen + n;
      if (frameEnd > buf.length) return -(frameEnd - at);
      buf.copyWithin(at + headLen, payStart, end);
      end = frameEnd;
    }
    writeHead(buf, at, e.lead, flags, sequence, mid, 0, crc, envLen, n);
    return end;
  }

  decode(frame: Uint8Array, options: { copy?: boolean } = {}): DecodedMessage {
    if (!(frame instanceof Uint8Array))
      throw tmeshError('E_INVALID_ARGUMENT', 'universal decode needs a Uint8Array');
    if (!readVarint(frame, 0, frame.length)) {
      throw tmeshError(
        'E_FRAME_TRUNCATED',
        `universal frame: length prefix incomplete (${frame.length} bytes)`,
      );
    }
    const start = varint.pos;
    const length = frameLength(start, this.maxFrameSize);
    const end = start + length;
    if (frame.length < end) {
      throw tmeshError(
        'E_FRAME_TRUNCATED',
        `universal frame: prefix announces ${length} envelope bytes, got ${frame.length - start}`,
      );
    }
    if (frame.length > end)
      throw tmeshError('E_TRAILING_BYTES', `universal frame: ${frame.length - end} bytes after the envelope`);
    return this.decodeEnvelope(frame, start, end, options.copy === true);
  }

  /**
   * Decode the envelope at `bytes[start, end)` and the payload it carries; a compressed payload may not
   * decompress to more than `max` bytes.
   */
  decodeEnvelope(
    bytes: Uint8Array,
    start: number,
    end: number,
    copy: boolean,
    max: number = this.maxFrameSize,
    compressor: EnvelopeCompression = this.compression,
  ): DecodedMessage {
    let version = 0;
    let messageType = 0;
    let flags = 0;
    let sequence = 0;
    let timestamp = 0;
    let source = '';
    let destination = '';
    let typeName = '';
    let named: TypeEntry | undefined;
    let compression = 0;
    let checksum: number | undefined;
    let payStart = 0;
    let payEnd = 0;
    let pos = start;
    while (pos < end) {
      // Tags of fields 1-15 are one byte: read them (and one-byte values) inline.
      let tag = bytes[pos]!;
      if (tag < 0x80) pos++;
      else {
        if (!readVarint(bytes, pos, end)) throw truncated(pos);
        if (varint.hi !== 0 || varint.lo > 0xffffffff)
          throw tmeshError('E_DECODE', `universal envelope: tag at offset ${pos} is out of range`);
        tag = varint.lo;
        pos = varint.pos;
      }
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field === 0) throw tmeshError('E_DECODE', `universal envelope: field number 0 at offset ${pos}`);
      const expected = field >= 1 && field <= 11 ? EXPECTED_WIRE_TYPE[field] : wireType;
      if (wireType !== expected) {
        throw tmeshError(
          'E_DECODE',
          `universal envelope: field ${field} has wire type ${wireType}, expected ${expected}`,
        );
      }
      switch (wireType) {
        case 0: {
          let lo: number;
          let hi = 0;
          const b = pos < end ? bytes[pos]! : 0x80;
          if (b < 0x80) {
            lo = b;
            pos++;
          } else {
            if (!readVarint(bytes, pos, end)) throw truncated(pos);
            pos = varint.pos;
            lo = varint.lo;
            hi = varint.hi;
          }
          switch (field) {
            case FIELD.version:
              version = lo;
              break;
            case FIELD.messageType:
              messageType = lo;
              break;
            case FIELD.flags:
              flags = lo;
              break;
            case FIELD.sequence:
              sequence = lo;
              break;
            case FIELD.timestamp:
              if (hi > 0x1fffff) throw tmeshError('E_RANGE', 'universal envelope: timestamp exceeds 2^53 ms');
              timestamp = hi * 0x100000000 + lo;
              break;
            case FIELD.compression:
              compression = lo;
              break;
            default:
          }
          break;
        }
        case 1:
          if (end - pos < 8) throw truncated(pos);
          pos += 8;
          break;
        case 5:
          if (end - pos < 4) throw truncated(pos);
          if (field === FIELD.checksum) {
            checksum =
              (bytes[pos]! | (bytes[pos + 1]! << 8) | (bytes[pos + 2]! << 16) | (bytes[pos + 3]! << 24)) >>>
              0;
          }
          pos += 4;
          break;
        case 2: {
          let len: number;
          const b = pos < end ? bytes[pos]! : 0x80;
          if (b < 0x80) {
            len = b;
            pos++;
          } else {
            if (!readVarint(bytes, pos, end)) throw truncated(pos);
            len = varint.hi === 0 ? varint.lo : Number.POSITIVE_INFINITY;
            pos = varint.pos;
          }
          if (len > end - pos) {
            throw tmeshError(
              'E_FRAME_TRUNCATED',
              `universal envelope: field ${field} announces ${len} bytes, ${end - pos} left`,
            );
          }
          const stop = pos + len;
          if (field === FIELD.payload) {
            payStart = pos;
            payEnd = stop;
          } else if (field === FIELD.source) source = readUtf8(bytes, pos, stop);
          else if (field === FIELD.destination) destination = readUtf8(bytes, pos, stop);
          else if (field === FIELD.typeName) {
            // A link carries few types: match the raw name against the last one before decoding it.
            named = this.#sameName(bytes, pos, stop);
            if (!named) typeName = readUtf8(bytes, pos, stop);
          }
          pos = stop;
          break;
        }
        default:
          throw tmeshError(
            'E_DECODE',
            `universal envelope: wire type ${wireType} (groups are not used) at offset ${pos}`,
          );
      }
    }
    if (version !== UNIVERSAL_VERSION) {
      throw tmeshError(
        'E_UNSUPPORTED_VERSION',
        `universal envelope: version ${version}, this build speaks ${UNIVERSAL_VERSION}`,
      );
    }
    if (checksum !== undefined) {
      const actual = crc32Range(bytes, payStart, payEnd);
      if (actual !== checksum) {
        throw tmeshError(
          'E_CHECKSUM',
          `universal envelope seq ${sequence}: payload CRC-32 0x${actual.toString(16)}, envelope says 0x${checksum.toString(16)}`,
        );
      }
    }
    if (compression !== (flags & FRAME_FLAGS.COMPRESSION_MASK)) {
      throw tmeshError(
        'E_DECODE',
        `universal envelope: compression ${compression} disagrees with flags 0x${flags.toString(16)}`,
      );
    }
    const e =
      named ?? this.entry(typeName !== '' ? this.registry.byName(typeName) : this.registry.byId(messageType));
    const type = e.type;
    if (messageType !== 0 && messageType !== type.id) {
      throw tmeshError(
        'E_UNKNOWN_MESSAGE_TYPE',
        `universal envelope: type ${type.name} has id ${type.id}, the envelope says ${messageType}`,
      );
    }
    if (typeName !== '') this.#remember(e);
    const sent = payEnd - payStart;
    let value: unknown;
    if (compression !== FRAME_FLAGS.COMPRESSION_NONE) {
      const packed = new Uint8Array(bytes.buffer, bytes.byteOffset + payStart, sent);
      const payload = compressor.decompress(compression, packed, max);
      // The inflated buffer is already our own: no copy.
      value = e.payload.decodeRange(payload, 0, payload.length, false);
    } else {
      // Read in place: bytes fields are views into `bytes` unless `copy`.
      value = e.payload.decodeRange(bytes, payStart, payEnd, copy);
    }
    const header: FrameHeader = {
      version,
      messageType: type.id,
      flags,
      payloadSize: sent,
      sequence,
      timestamp,
      checksum: checksum ?? 0,
    };
    const out: DecodedMessage = { type, header, value };
    if (source !== '') out.source = source;
    if (destination !== '') out.destination = destination;
    return out;
  }

  /** A recent type whose UTF-8 name is exactly `bytes[start, end)` (no string decoded), or undefined. */
  #sameName(bytes: Uint8Array, start: number, end: number): TypeEntry | undefined {
    const recent = this.#recent;
    const n = end - start;
    for (let k = 0; k < RECENT_TYPES; k++) {
      const e = recent[k];
      if (e === undefined) return undefined;
      const name = e.rawName;
      if (name.length !== n) continue;
      let i = 0;
      while (i < n && name[i] === bytes[start + i]) i++;
      if (i === n) return e;
    }
    return undefined;
  }

  createDecoder(options: UniversalDecoderOptions = {}): UniversalMessageDecoder {
    return new UniversalFrameDecoder(
      this,
      checkMax(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 'createDecoder'),
      options.copy === true,
      options.compression ?? this.compression,
    );
  }
}

const EXPECTED_WIRE_TYPE = [0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 5, 2];

function truncated(pos: number): Error {
  return tmeshError('E_FRAME_TRUNCATED', `universal envelope: ends inside the field at offset ${pos}`);
}

/** The envelope length just read into `varint`, checked against the limit before anything is allocated. */
function frameLength(prefixSize: number, max: number): number {
  const length = varint.hi * 0x100000000 + varint.lo;
  if (prefixSize + length > max) throw tooLarge(length, prefixSize, max);
  return length;
}

function tooLarge(length: number, prefixSize: number, max: number): Error {
  return tmeshError(
    'E_FRAME_TOO_LARGE',
    `universal frame: prefix announces ${length} envelope bytes, limit is ${max - prefixSize}`,
  );
}

/** The default: deflate (raw RFC 1951) from node:zlib; other algorithms are E_COMPRESSION. */
const DEFLATE_ONLY: EnvelopeCompression = Object.freeze({ compress, decompress });

function compress(algorithm: number, payload: Uint8Array): Uint8Array {
  if (algorithm === FRAME_FLAGS.COMPRESSION_DEFLATE)
    return zlib.deflateRawSync(payload, { level: zlib.constants.Z_BEST_SPEED });
  throw tmeshError(
    'E_COMPRESSION',
    `universal frame: compression ${algorithm} is not available in this build (deflate = 1 is)`,
  );
}

function decompress(algorithm: number, payload: Uint8Array, max: number): Uint8Array {
  if (algorithm !== FRAME_FLAGS.COMPRESSION_DEFLATE) {
    throw tmeshError(
      'E_COMPRESSION',
      `universal envelope: compression ${algorithm} is not available in this build (deflate = 1 is)`,
    );
  }
  try {
    return zlib.inflateRawSync(payload, { maxOutputLength: max });
  } catch (cause) {
    throw tmeshError(
      'E_COMPRESSION',
      `universal envelope: deflate payload does not inflate within ${max} bytes: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * Length-delimited stream decoder: frames cut anywhere, many per chunk, size checked before allocating.
 * Frames inside a chunk are decoded in place (their bytes fields are views into the chunk); only a frame
 * that spans chunks is copied, once, into a buffer allocated when its length prefix has passed the limit
 * (like @tmesh/net's `FixedStreamReader` for the fixed wires). Poisoned after an error.
 */
class UniversalFrameDecoder implements UniversalMessageDecoder {
  readonly #codec: UniversalCodecImpl;
  readonly #max: number;
  readonly #copy: boolean;
  readonly #compression: EnvelopeCompression;
  /** The start of a length prefix that a chunk cut (at most 10 bytes). */
  readonly #head = new Uint8Array(10);
  #headFill = 0;
  /** The envelope being completed (its prefix read and checked). */
  readonly #body = new FrameAssembly();
  #failed: unknown;

  constructor(codec: UniversalCodecImpl, max: number, copy: boolean, compression: EnvelopeCompression) {
    this.#codec = codec;
    this.#max = max;
    this.#copy = copy;
    this.#compression = compression;
  }

  get bufferedBytes(): number {
    return this.#body.active ? this.#headFill + this.#body.fill : this.#headFill;
  }

  target(min: number): Uint8Array | undefined {
    return this.#failed ? undefined : this.#body.target(min);
  }

  release(reuse: boolean): void {
    this.#body.release(reuse);
  }

  filled(buf: Uint8Array, n: number): DecodedMessage[] {
    if (this.#failed) throw this.#failed;
    if (!this.#body.landed(buf, n)) return this.push(buf.subarray(0, n));
    const out: DecodedMessage[] = [];
    const frame = this.#body.finish();
    if (frame === undefined) return out;
    this.#headFill = 0;
    try {
      this.#decode(frame, 0, frame.length, out);
    } catch (error) {
      this.#failed = error;
      throw error;
    }
    return out;
  }

  push(chunk: Uint8Array): DecodedMessage[] {
    if (this.#failed) throw this.#failed;
    this.#body.unlease();
    try {
      if (!(chunk instanceof Uint8Array))
        throw tmeshError('E_INVALID_ARGUMENT', 'universal decoder: push needs a Uint8Array');
      return this.#push(chunk);
    } catch (error) {
      this.#failed = error;
      this.#body.clear();
      this.#headFill = 0;
      throw error;
    }
  }

  end(): void {
    if (this.#failed) throw this.#failed;
    const pending = this.bufferedBytes;
    if (pending > 0) {
      throw tmeshError(
        'E_FRAME_TRUNCATED',
        `universal stream ended inside a frame (${pending} bytes pending)`,
      );
    }
  }

  #decode(bytes: Uint8Array, start: number, end: number, out: DecodedMessage[]): void {
    out.push(this.#codec.decodeEnvelope(bytes, start, end, this.#copy, this.#max, this.#compression));
  }

  #push(chunk: Uint8Array): DecodedMessage[] {
    const out: DecodedMessage[] = [];
    const n = chunk.length;
    let off = 0;
    // 1. Finish the frame that spans from earlier chunks: its prefix, then its envelope.
    if (this.#headFill > 0 || this.#body.active) {
      if (!this.#body.active) {
        const head = this.#head;
        let fill = this.#headFill;
        while (off < n && fill < 10) {
          const b = chunk[off++]!;
          head[fill++] = b;
          if (b < 0x80) break;
        }
        this.#headFill = fill;
        if (!readVarint(head, 0, fill)) return out; // (10 bytes without an end throw E_VARINT_OVERFLOW)
        // (its length checked against the limit by `frameLength`)
        this.#body.begin(frameLength(fill, this.#max));
      }
      off += this.#body.append(chunk, off, n);
      const frame = this.#body.finish();
      if (frame === undefined) return out;
      this.#headFill = 0;
      this.#decode(frame, 0, frame.length, out);
    }
    // 2. Whole frames inside this chunk, decoded in place.
    while (off < n) {
      let length: number;
      let start: number;
      const b = chunk[off]!;
      if (b < 0x80) {
        // One-byte prefix: a frame of less than 128 bytes, within any limit >= 128.
        length = b;
        start = off + 1;
        if (1 + length > this.#max) throw tooLarge(length, 1, this.#max);
      } else {
        if (!readVarint(chunk, off, n)) break;
        start = varint.pos;
        length = frameLength(start - off, this.#max);
      }
      const end = start + length;
      if (end > n) break;
      this.#decode(chunk, start, end, out);
      off = end;
    }
    // 3. Keep the start of the next frame: its prefix, or (prefix checked) the envelope's first bytes.
    if (off < n) {
      if (!readVarint(chunk, off, n)) {
        this.#head.set(chunk.subarray(off), 0);
        this.#headFill = n - off;
        return out;
      }
      const start = varint.pos;
      const length = frameLength(start - off, this.#max);
      this.#headFill = start - off;
      this.#body.begin(length);
      this.#body.append(chunk, start, n);
    }
    return out;
  }
}

/**
 * Create the universal wire codec over a registry: each message is one Envelope (envelope.proto) with
 * the protobuf payload inside, preceded by its length as a varint (protobuf's length-delimited framing).
 */
export function createUniversalCodec(
  registry: MessageRegistry,
  options: UniversalCodecOptions = {},
): UniversalCodec {
  return new UniversalCodecImpl(registry, options);
}
