import * as zlib from 'node:zlib';
import {
  crc32,
  DEFAULT_MAX_FRAME_SIZE,
  type DecodedMessage,
  FRAME_FLAGS,
  type FrameDecoderOptions,
  type FrameHeader,
  type MessageDecoder,
  type MessageRegistry,
  type MessageType,
  PROTOCOL_VERSION,
  type Schema,
  tmeshError,
  type WireCodec,
  type WireEncodeOptions,
} from '@tmesh/core';
import {
  crc32Small,
  FIELD,
  readVarint,
  SMALL_CRC_BYTES,
  varint,
  varintSize,
  writeVarint,
} from './envelope.js';
import { compileUniversal, sharedWriter, type UniversalPayloadCodec, WRITER_KEEP_BYTES } from './payload.js';
import { type BigintWriter, readUtf8 } from './pb-io.js';

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

/** The universal wire codec: a `WireCodec` plus what only this wire has. */
export interface UniversalCodec extends WireCodec {
  readonly wire: 'universal';
  /** The protobuf payload codec of a struct or union schema (compiled once, cached). */
  compile<T>(schema: Schema<T>): UniversalPayloadCodec<T>;
  /** A stream decoder with its own frame limit and, optionally, its own decompression. */
  createDecoder(options?: UniversalDecoderOptions): MessageDecoder;
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
  /** Field 2 (message_type), written right after the version. */
  idBytes: Uint8Array;
  /** Field 8 (type_name). */
  nameBytes: Uint8Array;
  /** The UTF-8 of the type name alone. */
  rawName: Uint8Array;
}

function utf8(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

function fieldString(tag: number, s: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + varintSize(s.length) + s.length);
  out[0] = tag;
  out.set(s, writeVarint(out, 1, s.length));
  return out;
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

/** The envelope fields written before the payload. */
interface EnvelopeHead {
  e: TypeEntry;
  flags: number;
  sequence: number;
  timestamp: number;
  source: Uint8Array;
  destination: Uint8Array;
  compression: number;
  crc: number;
}

/** Frames at least this big hand the writer's buffer over instead of copying out of it. */
const DETACH_BYTES = 64 * 1024;

/** Bytes of the envelope fields 1-10 (everything before the payload field). */
function headSize(h: EnvelopeHead): number {
  return (
    2 +
    h.e.idBytes.length +
    (h.flags ? 1 + varintSize(h.flags) : 0) +
    (h.sequence ? 1 + varintSize(h.sequence) : 0) +
    (h.timestamp ? 1 + varintSize(h.timestamp) : 0) +
    h.source.length +
    h.destination.length +
    h.e.nameBytes.length +
    (h.compression ? 2 : 0) +
    5
  );
}

/** Write the length prefix, envelope fields 1-10 and the payload field's tag and length; returns the end. */
function writeHead(buf: Uint8Array, pos: number, h: EnvelopeHead, envLen: number, n: number): number {
  pos = writeVarint(buf, pos, envLen);
  buf[pos++] = TAG_VERSION;
  buf[pos++] = UNIVERSAL_VERSION;
  pos = put(buf, pos, h.e.idBytes);
  if (h.flags) {
    buf[pos++] = TAG_FLAGS;
    pos = writeVarint(buf, pos, h.flags);
  }
  if (h.sequence) {
    buf[pos++] = TAG_SEQUENCE;
    pos = writeVarint(buf, pos, h.sequence);
  }
  if (h.timestamp) {
    buf[pos++] = TAG_TIMESTAMP;
    pos = writeVarint(buf, pos, h.timestamp);
  }
  pos = put(buf, pos, h.source);
  pos = put(buf, pos, h.destination);
  pos = put(buf, pos, h.e.nameBytes);
  if (h.compression) {
    buf[pos++] = TAG_COMPRESSION;
    buf[pos++] = h.compression;
  }
  const crc = h.crc;
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

/** Copy a short byte string in (a loop beats TypedArray#set's call overhead at these sizes). */
function put(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i]!;
  return pos;
}

class UniversalCodecImpl implements UniversalCodec {
  readonly wire = 'universal' as const;
  readonly registry: MessageRegistry;
  readonly maxFrameSize: number;
  readonly compression: EnvelopeCompression;
  readonly #types = new Map<MessageType<any>, TypeEntry>();
  readonly #source = new IdField(TAG_SOURCE, 'source');
  readonly #destination = new IdField(TAG_DESTINATION, 'destination');
  #lastNamed: TypeEntry | undefined;

  constructor(registry: MessageRegistry, options: UniversalCodecOptions) {
    this.registry = registry;
    this.maxFrameSize = checkMax(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 'createUniversalCodec');
    this.compression = options.compression ?? DEFLATE_ONLY;
  }

  compile<T>(schema: Schema<T>): UniversalPayloadCodec<T> {
    return compileUniversal(schema);
  }

  entry(type: MessageType<any>): TypeEntry {
    let e = this.#types.get(type);
    if (e) return e;
    const registered = this.registry.byName(type?.name);
    if (registered !== type && registered.schema.desc !== type.schema.desc) {
      throw tmeshError(
        'E_UNKNOWN_MESSAGE_TYPE',
        `message type ${type.name} differs from the one registered under that name`,
      );
    }
    const idBytes = new Uint8Array(1 + varintSize(type.id));
    idBytes[0] = TAG_MESSAGE_TYPE;
    writeVarint(idBytes, 1, type.id);
    const rawName = utf8(type.name);
    e = {
      type,
      payload: compileUniversal(type.schema),
      idBytes,
      nameBytes: fieldString(TAG_TYPE_NAME, rawName),
      rawName,
    };
    this.#types.set(type, e);
    return e;
  }

  encode<T>(type: MessageType<T>, value: T, options: WireEncodeOptions = {}): Uint8Array {
    const e = this.entry(type);
    const { flags = 0, sequence = 0 } = options;
    const timestamp = options.timestamp ?? Date.now();
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
    const source = this.#source.bytes(options.source);
    const destination = this.#destination.bytes(options.destination);
    const compression = flags & FRAME_FLAGS.COMPRESSION_MASK;

    // Everything before the payload field except the two lengths is known now: reserve room for it in
    // the shared writer, encode the payload after that room, then fill the envelope in right before it.
    const head: EnvelopeHead = { e, flags, sequence, timestamp, source, destination, compression, crc: 0 };
    const fixed = headSize(head);
    const room = fixed + 1 + 5 + 5; // + payload tag, payload length, envelope length (< 2^32: 5 bytes)
    const w = sharedWriter.restart() as BigintWriter & {
      buf: Uint8Array;
      pos: number;
      _reserve(n: number): void;
    };
    try {
      w._reserve(room);
      w.pos = room;
      e.payload.writeTo(value, w);
      if (compression !== FRAME_FLAGS.COMPRESSION_NONE) {
        const payload = this.compression.compress(compression, w.buf.subarray(room, w.pos));
        head.crc = crc32(payload);
        const n = payload.length;
        const envLen = fixed + (n ? 1 + varintSize(n) + n : 0);
        const frame = Buffer.allocUnsafe(varintSize(envLen) + envLen);
        frame.set(payload, writeHead(frame, 0, head, envLen, n));
        return frame;
      }
      const end = w.pos;
      const n = end - room;
      const buf = w.buf as Buffer;
      head.crc = n < SMALL_CRC_BYTES ? crc32Small(buf, room, end) : crc32(buf.subarray(room, end));
      const envLen = fixed + (n ? 1 + varintSize(n) : 0) + n;
      const start = room - (varintSize(envLen) + envLen - n);
      writeHead(buf, start, head, envLen, n);
      if (end - start >= DETACH_BYTES) {
        // A big frame keeps the writer's buffer: the payload bytes are copied once in all.
        w.detach();
        return buf.subarray(start, end);
      }
      // (Buffer#slice would be a view: copy out explicitly, without a subarray object.)
      const frame = Buffer.allocUnsafe(end - start);
      if (end - start > 256) buf.copy(frame, 0, start, end);
      else for (let i = start, j = 0; i < end; ) frame[j++] = buf[i++]!;
      return frame;
    } finally {
      w.shrink(WRITER_KEEP_BYTES);
    }
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
    let payload: Uint8Array = EMPTY;
    let pos = start;
    while (pos < end) {
      if (!readVarint(bytes, pos, end)) throw truncated(pos);
      if (varint.hi !== 0 || varint.lo > 0xffffffff)
        throw tmeshError('E_DECODE', `universal envelope: tag at offset ${pos} is out of range`);
      const tag = varint.lo;
      const field = tag >>> 3;
      const wireType = tag & 7;
      pos = varint.pos;
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
          if (!readVarint(bytes, pos, end)) throw truncated(pos);
          pos = varint.pos;
          const lo = varint.lo;
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
              if (varint.hi > 0x1fffff)
                throw tmeshError('E_RANGE', 'universal envelope: timestamp exceeds 2^53 ms');
              timestamp = varint.hi * 0x100000000 + lo;
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
          if (!readVarint(bytes, pos, end)) throw truncated(pos);
          const len = varint.hi === 0 ? varint.lo : Number.POSITIVE_INFINITY;
          pos = varint.pos;
          if (len > end - pos) {
            throw tmeshError(
              'E_FRAME_TRUNCATED',
              `universal envelope: field ${field} announces ${len} bytes, ${end - pos} left`,
            );
          }
          const stop = pos + len;
          // A plain Uint8Array view: cheaper to make than Buffer#subarray, the same bytes.
          if (field === FIELD.payload) payload = new Uint8Array(bytes.buffer, bytes.byteOffset + pos, len);
          else if (field === FIELD.source) source = readUtf8(bytes, pos, stop);
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
      const actual = payload.length < SMALL_CRC_BYTES ? crc32Small(payload) : crc32(payload);
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
    if (typeName !== '') this.#lastNamed = e;
    const sent = payload.length;
    if (compression !== FRAME_FLAGS.COMPRESSION_NONE) {
      payload = compressor.decompress(compression, payload, max);
      copy = false; // the inflated buffer is already our own
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
    const out: DecodedMessage = { type, header, value: e.payload.decode(payload, { copy }) };
    if (source !== '') out.source = source;
    if (destination !== '') out.destination = destination;
    return out;
  }

  /** The last decoded type, if its UTF-8 name is exactly `bytes[start, end)`. */
  #sameName(bytes: Uint8Array, start: number, end: number): TypeEntry | undefined {
    const e = this.#lastNamed;
    if (!e) return undefined;
    const name = e.rawName;
    if (name.length !== end - start) return undefined;
    for (let i = 0; i < name.length; i++) if (name[i] !== bytes[start + i]) return undefined;
    return e;
  }

  createDecoder(options: UniversalDecoderOptions = {}): MessageDecoder {
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
  if (prefixSize + length > max) {
    throw tmeshError(
      'E_FRAME_TOO_LARGE',
      `universal frame: prefix announces ${length} envelope bytes, limit is ${max - prefixSize}`,
    );
  }
  return length;
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

/** Length-delimited stream decoder: frames cut anywhere, many per chunk, size checked before allocating. */
class UniversalFrameDecoder implements MessageDecoder {
  readonly #codec: UniversalCodecImpl;
  readonly #max: number;
  readonly #copy: boolean;
  readonly #compression: EnvelopeCompression;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Prefix size and total size of the frame at the head of the buffer, once its prefix is read. */
  #prefix = 0;
  #need = 0;
  #failed: unknown;

  constructor(codec: UniversalCodecImpl, max: number, copy: boolean, compression: EnvelopeCompression) {
    this.#codec = codec;
    this.#max = max;
    this.#copy = copy;
    this.#compression = compression;
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): DecodedMessage[] {
    if (this.#failed) throw this.#failed;
    try {
      if (!(chunk instanceof Uint8Array))
        throw tmeshError('E_INVALID_ARGUMENT', 'universal decoder: push needs a Uint8Array');
      return this.#push(chunk);
    } catch (error) {
      this.#failed = error;
      this.#chunks = [];
      this.#buffered = 0;
      throw error;
    }
  }

  end(): void {
    if (this.#failed) throw this.#failed;
    if (this.#buffered > 0) {
      throw tmeshError(
        'E_FRAME_TRUNCATED',
        `universal stream ended inside a frame (${this.#buffered} bytes pending)`,
      );
    }
  }

  #push(chunk: Uint8Array): DecodedMessage[] {
    const out: DecodedMessage[] = [];
    if (this.#buffered === 0) {
      // Fast path: whole frames inside this chunk decode straight from it, as views.
      let offset = 0;
      while (offset < chunk.length && readVarint(chunk, offset, chunk.length)) {
        const start = varint.pos;
        const end = start + frameLength(start - offset, this.#max);
        if (end > chunk.length) break;
        out.push(this.#codec.decodeEnvelope(chunk, start, end, this.#copy, this.#max, this.#compression));
        offset = end;
      }
      if (offset === chunk.length) return out;
      chunk = chunk.subarray(offset);
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#need === 0) {
        const head = this.#peek(Math.min(10, this.#buffered));
        if (!readVarint(head, 0, head.length)) return out;
        this.#prefix = varint.pos;
        this.#need = this.#prefix + frameLength(this.#prefix, this.#max);
      }
      if (this.#buffered < this.#need) return out;
      const frame = this.#take(this.#need);
      const prefix = this.#prefix;
      this.#need = 0;
      out.push(
        this.#codec.decodeEnvelope(frame, prefix, frame.length, this.#copy, this.#max, this.#compression),
      );
      if (this.#buffered === 0) return out;
    }
  }

  /** The first n buffered bytes (n <= 10), copied only if they span chunks. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let filled = 0;
    for (const c of this.#chunks) {
      const part = Math.min(c.length, n - filled);
      out.set(c.subarray(0, part), filled);
      filled += part;
      if (filled === n) break;
    }
    return out;
  }

  /** Remove and return the next n buffered bytes: a view when they lie in one chunk, else one copy. */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0]!;
      const part = Math.min(c.length, n - filled);
      out.set(c.subarray(0, part), filled);
      filled += part;
      if (part === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(part);
    }
    this.#buffered -= n;
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
