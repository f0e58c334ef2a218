import { createRustCodec } from '@tmesh/codec-rust';
import { createSwiftCodec } from '@tmesh/codec-swift';
import { createUniversalCodec, type UniversalCodec } from '@tmesh/codec-universal';
import {
  type CompressionAlgorithm,
  checkPayload,
  crc32,
  crc32Accelerator,
  DEFAULT_MAX_FRAME_SIZE,
  type DecodedMessage,
  type FixedFrameLayout,
  FRAME_FLAGS,
  FrameAssembly,
  type FrameHeader,
  type MessageRegistry,
  type MessageType,
  type PayloadCodec,
  RUST_FRAME,
  readFrameHeader,
  resealFrameParts,
  SWIFT_FRAME,
  sealFrame,
  setCrc32Accelerator,
  tmeshError,
  type WireCodec,
  type WireEncodeOptions,
  type WireId,
} from '@tmesh/core';
import { nativeCrc32 } from '@tmesh/shm-native/checksum';
import {
  compress,
  compressionFlag,
  decompress,
  envelopeCompression,
  envelopeCompressionFor,
  SUPPORTED_COMPRESSION,
} from './compression.js';

/**
 * Reads that land straight in the frame being assembled (see `directReads` in direct-read.ts): the socket
 * asks `target` where its next read may go and reports with `filled` how many bytes landed there.
 */
export interface DirectFrameReader {
  /** The unfilled rest of the frame being assembled when at least `min` bytes of it are missing, else undefined. */
  target(min: number): Uint8Array | undefined;
  /** `n` bytes were read into `buf` (the last `target()` or a buffer of its own): the messages they complete. */
  filled(buf: Uint8Array, n: number): DecodedMessage[];
}

/**
 * Turns pushed chunks into decoded messages (control and application alike); the SWFT/RUST readers also
 * take reads straight into a frame's buffer (`direct`).
 */
export type FrameReader = ((chunk: Uint8Array) => DecodedMessage[]) & {
  direct?: DirectFrameReader;
  /**
   * The caller is done with the messages returned last; with `reuse`, nothing refers to their bytes any
   * more and the buffer of a frame among them assembled across chunks or reads may hold the next big
   * frame (core's `FrameAssembly.release`).
   */
  release(reuse: boolean): void;
};

/** What the link needs from a wire: encode a message into a frame, compress a frame, read a stream. */
export interface WireAdapter {
  readonly wire: WireId;
  /** One complete uncompressed frame. */
  encode<T>(type: MessageType<T>, value: T, sequence: number, flags: number): Uint8Array;
  /**
   * One uncompressed frame, as the parts of a gather write when a bytes field of at least
   * `GATHER_MIN_BYTES` was kept as the caller's array (see `WireCodec.encodeParts`), else as one array.
   */
  encodeParts<T>(
    type: MessageType<T>,
    value: T,
    sequence: number,
    flags: number,
    timestamp?: number,
  ): Uint8Array | Uint8Array[];
  /**
   * One uncompressed frame written straight into `buf` at `at` (see `WireCodec.encodeFrameInto`): its
   * end, or `-need` (the room the encoder asked for, an estimate of the frame's size) when it does not
   * fit before `buf.length`.
   * Absent on a wire whose codec cannot (the link then uses `encodeParts`).
   */
  encodeInto?<T>(
    type: MessageType<T>,
    value: T,
    sequence: number,
    flags: number,
    timestamp: number,
    buf: Uint8Array,
    at: number,
  ): number;
  /** Recompute the checksum of a frame given as parts (before writing it again); see `resealFrameParts`. */
  reseal(parts: Uint8Array[]): void;
  /**
   * The frame `plain` (just encoded from type and value) with its payload compressed, or undefined when
   * compression does not shrink it.
   */
  encodeCompressed<T>(
    type: MessageType<T>,
    value: T,
    plain: Uint8Array,
    sequence: number,
    flags: number,
    algorithm: CompressionAlgorithm,
  ): Uint8Array | undefined;
  /**
   * A stream reader; frames larger than maxFrameSize fail with E_FRAME_TOO_LARGE before allocation, and
   * a compressed payload must use one of `accepted` and decompress within maxFrameSize (E_COMPRESSION).
   */
  createReader(maxFrameSize: number, accepted?: readonly CompressionAlgorithm[]): FrameReader;
}

const codecCache = new WeakMap<MessageRegistry, Map<WireId, WireCodec>>();

/** The codec of a wire for a registry (created once per registry). */
export function codecFor(wire: WireId, registry: MessageRegistry): WireCodec {
  let byWire = codecCache.get(registry);
  if (!byWire) {
    byWire = new Map();
    codecCache.set(registry, byWire);
  }
  let codec = byWire.get(wire);
  if (!codec) {
    // The codecs check this ceiling on encode (and universal on inflate); links enforce their own limit on reads.
    const options = { maxFrameSize: DEFAULT_MAX_FRAME_SIZE };
    if (wire === 'rust') codec = createRustCodec(registry, options);
    else if (wire === 'swift') codec = createSwiftCodec(registry, options);
    else codec = createUniversalCodec(registry, { ...options, compression: envelopeCompression });
    byWire.set(wire, codec);
  }
  return codec;
}

/**
 * One options object an adapter passes to every encode, refilled each time (no object per frame): the
 * codecs read it before encoding the value.
 */
function encodeOptions(): (
  sequence: number,
  flags: number,
  timestamp: number | undefined,
) => WireEncodeOptions {
  const o: { sequence: number; flags: number; timestamp: number | undefined } = {
    sequence: 0,
    flags: 0,
    timestamp: undefined,
  };
  return (sequence, flags, timestamp) => {
    o.sequence = sequence;
    o.flags = flags;
    o.timestamp = timestamp;
    return o;
  };
}

/**
 * What every wire's adapter does alike: encode through its codec (whole frames, and frames written
 * straight into the link's send block) with one reusable options object.
 */
abstract class CodecAdapter<C extends WireCodec> {
  protected readonly codec: C;
  protected readonly options = encodeOptions();

  constructor(codec: C) {
    this.codec = codec;
  }

  encode<T>(type: MessageType<T>, value: T, sequence: number, flags: number): Uint8Array {
    return this.codec.encode(type, value, this.options(sequence, flags, undefined));
  }

  /**
   * One frame straight into the link's send block (`WireCodec.encodeFrameInto`): its end, or `-need`
   * when it does not fit. (A link that knows this method uses it instead of `encodeParts` for frames
   * that fit a block.)
   */
  encodeInto<T>(
    type: MessageType<T>,
    value: T,
    sequence: number,
    flags: number,
    timestamp: number,
    buf: Uint8Array,
    at: number,
  ): number {
    return this.codec.encodeFrameInto!(type, value, this.options(sequence, flags, timestamp), buf, at);
  }
}

/** Adapter for the SWFT and RUST wires: the codec's own encoder, decoding through core's frame decoder. */
class FixedWireAdapter extends CodecAdapter<WireCodec> implements WireAdapter {
  readonly wire: WireId;
  readonly #layout: FixedFrameLayout;
  readonly #registry: MessageRegistry;
  readonly #payload = new Map<number, { type: MessageType<any>; codec: PayloadCodec<any> }>();

  constructor(layout: FixedFrameLayout, registry: MessageRegistry) {
    super(codecFor(layout.wire, registry));
    this.wire = layout.wire;
    this.#layout = layout;
    this.#registry = registry;
  }

  encodeParts<T>(
    type: MessageType<T>,
    value: T,
    sequence: number,
    flags: number,
    timestamp?: number,
  ): Uint8Array | Uint8Array[] {
    const parts = this.codec.encodeParts!(type, value, this.options(sequence, flags, timestamp));
    return parts.length === 1 ? parts[0]! : parts;
  }

  reseal(parts: Uint8Array[]): void {
    resealFrameParts(this.#layout, parts);
  }

  encodeCompressed<T>(
    _type: MessageType<T>,
    _value: T,
    frame: Uint8Array,
    _sequence: number,
    _flags: number,
    algorithm: CompressionAlgorithm,
  ): Uint8Array | undefined {
    const hs = this.#layout.headerSize;
    const payload = frame.subarray(hs);
    const packed = compress(algorithm, payload);
    if (packed.length >= payload.length) return undefined;
    const header = readFrameHeader(this.#layout, frame, 0, Number.MAX_SAFE_INTEGER);
    const out = Buffer.allocUnsafe(hs + packed.length);
    out.set(packed, hs);
    return sealFrame(this.#layout, out, {
      messageType: header.messageType,
      flags: header.flags | compressionFlag(algorithm),
      sequence: header.sequence,
      timestamp: header.timestamp,
    });
  }

  #entry(id: number): { type: MessageType<any>; codec: PayloadCodec<any> } {
    let entry = this.#payload.get(id);
    if (!entry) {
      const type = this.#registry.byId(id);
      entry = { type, codec: this.codec.compile(type.schema) };
      this.#payload.set(id, entry);
    }
    return entry;
  }

  createReader(
    maxFrameSize: number,
    accepted: readonly CompressionAlgorithm[] = SUPPORTED_COMPRESSION,
  ): FrameReader {
    const frames = new FixedStreamReader(this.#layout, maxFrameSize);
    let out: DecodedMessage[] = [];
    const emit = (header: FrameHeader, payload: Uint8Array): void => {
      const entry = this.#entry(header.messageType);
      const flag = header.flags & FRAME_FLAGS.COMPRESSION_MASK;
      const plain = flag === 0 ? payload : decompress(flag, payload, maxFrameSize, accepted);
      out.push({ type: entry.type, header, value: entry.codec.decode(plain) });
    };
    const reader = ((chunk: Uint8Array) => {
      out = [];
      frames.push(chunk, emit);
      return out;
    }) as FrameReader;
    reader.direct = {
      target: (min) => frames.target(min),
      filled: (buf, n) => {
        out = [];
        frames.filled(buf, n, emit);
        return out;
      },
    };
    reader.release = (reuse) => frames.release(reuse);
    return reader;
  }
}

/**
 * A SWFT/RUST stream reader for the link's hot path, with the checks and errors of core's
 * `FixedFrameDecoder`: frames inside a chunk are read in place (the payload is a view), and only a frame
 * that spans chunks is copied, once, into a buffer allocated after its size passed the limit. Headers are
 * read with byte arithmetic; any header that fails a check goes through core's `readFrameHeader`, which
 * throws the precise error (E_BAD_MAGIC, E_UNSUPPORTED_VERSION, E_FRAME_TOO_LARGE). Poisoned after an error.
 */
export class FixedStreamReader {
  readonly #layout: FixedFrameLayout;
  readonly #max: number;
  readonly #head: Uint8Array;
  #headFill = 0;
  /** The payload of the frame that spans chunks (its header passed every check), and that header. */
  readonly #body = new FrameAssembly();
  #frameHeader: FrameHeader | undefined;
  #failed: unknown;

  constructor(layout: FixedFrameLayout, maxFrameSize: number) {
    this.#layout = layout;
    this.#max = maxFrameSize;
    this.#head = new Uint8Array(layout.headerSize);
  }

  /** Bytes held of a frame not yet complete. */
  get bufferedBytes(): number {
    return this.#body.active ? this.#body.fill : this.#headFill;
  }

  /**
   * Where the next read may be written directly: the unfilled rest of the frame being assembled (its
   * header passed every check and its buffer exists) when at least `min` bytes of it are missing. The
   * rest is leased to the read until `filled`; a chunk pushed meanwhile moves the frame to a new buffer
   * first, so a read that lands late in the old one never touches a delivered payload.
   */
  target(min: number): Uint8Array | undefined {
    return this.#failed ? undefined : this.#body.target(min);
  }

  /** The caller is done with the frames emitted last (see `FrameAssembly.release`). */
  release(reuse: boolean): void {
    this.#body.release(reuse);
  }

  /**
   * `n` bytes were read into `buf`: if `buf` is the current lease they extend the frame (emitted once
   * complete), otherwise (a lease given up since) they are read as a chunk.
   */
  filled(buf: Uint8Array, n: number, emit: (header: FrameHeader, payload: Uint8Array) => void): void {
    if (this.#failed) throw this.#failed;
    if (!this.#body.landed(buf, n)) {
      this.push(buf.subarray(0, n), emit);
      return;
    }
    const frame = this.#body.finish();
    if (frame === undefined) return;
    const header = this.#frameHeader!;
    this.#frameHeader = undefined;
    try {
      this.#deliver(header, frame, emit);
    } catch (error) {
      this.#failed = error;
      throw error;
    }
  }

  /** Feed a chunk; `emit` gets every frame it completes, in order. */
  push(chunk: Uint8Array, emit: (header: FrameHeader, payload: Uint8Array) => void): void {
    if (this.#failed) throw this.#failed;
    this.#body.unlease();
    try {
      this.#push(chunk, emit);
    } catch (error) {
      this.#failed = error;
      this.#body.clear();
      throw error;
    }
  }

  #header(b: Uint8Array, o: number): FrameHeader {
    const layout = this.#layout;
    const magic = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
    const payloadSize = (b[o + 8]! | (b[o + 9]! << 8) | (b[o + 10]! << 16) | (b[o + 11]! << 24)) >>> 0;
    if (
      magic !== layout.magic ||
      b[o + 4] !== layout.version ||
      layout.headerSize + payloadSize > this.#max
    ) {
      readFrameHeader(layout, b, o, this.#max); // throws the precise error
    }
    return {
      version: b[o + 4]!,
      messageType: b[o + 5]!,
      flags: b[o + 6]! | (b[o + 7]! << 8),
      payloadSize,
      sequence: (b[o + 12]! | (b[o + 13]! << 8) | (b[o + 14]! << 16) | (b[o + 15]! << 24)) >>> 0,
      timestamp:
        ((b[o + 16]! | (b[o + 17]! << 8) | (b[o + 18]! << 16) | (b[o + 19]! << 24)) >>> 0) +
        ((b[o + 20]! | (b[o + 21]! << 8) | (b[o + 22]! << 16) | (b[o + 23]! << 24)) >>> 0) * 0x100000000,
      checksum: (b[o + 24]! | (b[o + 25]! << 8) | (b[o + 26]! << 16) | (b[o + 27]! << 24)) >>> 0,
    };
  }

  #deliver(header: FrameHeader, payload: Uint8Array, emit: (h: FrameHeader, p: Uint8Array) => void): void {
    if (crc32(payload) !== header.checksum) checkPayload(this.#layout, header, payload); // throws E_CHECKSUM
    emit(header, payload);
  }

  #push(chunk: Uint8Array, emit: (h: FrameHeader, p: Uint8Array) => void): void {
    const hs = this.#layout.headerSize;
    const n = chunk.length;
    let off = 0;
    // 1. Finish the frame that spans from earlier chunks.
    if (this.#headFill > 0 || this.#body.active) {
      if (!this.#body.active) {
        const take = Math.min(hs - this.#headFill, n);
        this.#head.set(chunk.subarray(0, take), this.#headFill);
        this.#headFill += take;
        off = take;
        if (this.#headFill < hs) return;
        const header = this.#header(this.#head, 0);
        this.#frameHeader = header;
        this.#body.begin(header.payloadSize);
        this.#headFill = 0;
      }
      off += this.#body.append(chunk, off, n);
      const frame = this.#body.finish();
      if (frame === undefined) return;
      const header = this.#frameHeader!;
      this.#frameHeader = undefined;
      this.#deliver(header, frame, emit);
    }
    // 2. Whole frames inside this chunk, read in place.
    const buffer = chunk.buffer;
    const base = chunk.byteOffset;
    while (n - off >= hs) {
      const header = this.#header(chunk, off);
      const end = off + hs + header.payloadSize;
      if (end > n) break;
      this.#deliver(header, new Uint8Array(buffer, base + off + hs, header.payloadSize), emit);
      off = end;
    }
    // 3. Keep the start of the next frame (header checked before its payload buffer is allocated).
    if (off < n) {
      if (n - off < hs) {
        this.#head.set(chunk.subarray(off), 0);
        this.#headFill = n - off;
        return;
      }
      const header = this.#header(chunk, off);
      this.#frameHeader = header;
      this.#body.begin(header.payloadSize);
      this.#body.append(chunk, off + hs, n);
    }
  }
}

/** Adapter for the universal wire: varint-delimited protobuf Envelopes (docs/PROTOCOL.md section 5). */
class UniversalWireAdapter extends CodecAdapter<UniversalCodec> implements WireAdapter {
  readonly wire: WireId = 'universal';

  constructor(registry: MessageRegistry) {
    super(codecFor('universal', registry) as UniversalCodec);
  }

  encodeParts<T>(
    type: MessageType<T>,
    value: T,
    sequence: number,
    flags: number,
    timestamp?: number,
  ): Uint8Array | Uint8Array[] {
    // A gather encode: bytes fields of at least GATHER_MIN_BYTES stay the caller's arrays.
    const parts = this.codec.encodeGather(type, value, this.options(sequence, flags, timestamp));
    if (!Array.isArray(parts)) return parts;
    // This wire also runs on grpc-js streams, which take Buffers only: a caller's plain array is given
    // as a Buffer view of the same memory (no copy; reseal and the lifetime rule work the same).
    for (let i = 1; i < parts.length; i++) {
      const p = parts[i]!;
      if (!Buffer.isBuffer(p)) parts[i] = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    }
    return parts;
  }

  reseal(parts: Uint8Array[]): void {
    this.codec.resealParts(parts);
  }

  encodeCompressed<T>(
    type: MessageType<T>,
    value: T,
    plain: Uint8Array,
    sequence: number,
    flags: number,
    algorithm: CompressionAlgorithm,
  ): Uint8Array | undefined {
    // The universal codec compresses inside its envelope when the flags ask for it.
    const packed = this.codec.encode(type, value, { sequence, flags: flags | compressionFlag(algorithm) });
    return packed.length < plain.length ? packed : undefined;
  }

  createReader(
    maxFrameSize: number,
    accepted: readonly CompressionAlgorithm[] = SUPPORTED_COMPRESSION,
  ): FrameReader {
    const compression = envelopeCompressionFor(accepted);
    const decoder = this.codec.createDecoder({ maxFrameSize, compression });
    // `direct`: a socket that can read straight into the frame being assembled (big frames) does.
    return Object.assign((chunk: Uint8Array) => decoder.push(chunk), {
      direct: {
        target: (min: number) => decoder.target(min),
        filled: (buf: Uint8Array, n: number) => decoder.filled(buf, n),
      },
      release: (reuse: boolean) => decoder.release(reuse),
    });
  }
}

const adapters = new WeakMap<MessageRegistry, Map<WireId, WireAdapter>>();

let crcChecked = false;

/**
 * Install the native addon's CRC-32 (crc32fast) as @tmesh/core's accelerator when the addon loads here:
 * the frame checksum of every payload is several times cheaper (one of the largest costs of a 1 MiB
 * message). Checked against core's CRC on known inputs first; without the addon, core's zlib CRC stays.
 */
export function useNativeCrc32(): string | undefined {
  if (!crcChecked) {
    crcChecked = true;
    const fn = nativeCrc32();
    if (fn && crc32Accelerator() === undefined) {
      try {
        setCrc32Accelerator(fn, 'crc32fast (native addon)');
      } catch {
        // A wrong answer from the addon: keep core's own CRC.
      }
    }
  }
  return crc32Accelerator();
}

/** The adapter of a wire for a link registry (cached). */
export function wireAdapter(wire: WireId, registry: MessageRegistry): WireAdapter {
  let byWire = adapters.get(registry);
  if (!byWire) {
    byWire = new Map();
    adapters.set(registry, byWire);
  }
  let adapter = byWire.get(wire);
  if (!adapter) {
    useNativeCrc32();
    if (wire === 'rust') adapter = new FixedWireAdapter(RUST_FRAME, registry);
    else if (wire === 'swift') adapter = new FixedWireAdapter(SWIFT_FRAME, registry);
    else if (wire === 'universal') adapter = new UniversalWireAdapter(registry);
    else throw tmeshError('E_INVALID_ARGUMENT', `unknown wire ${String(wire)}`);
    byWire.set(wire, adapter);
  }
  return adapter;
}

/**
 * Length of the first universal frame in `bytes` (its varint length prefix plus the envelope), or
 * undefined if the prefix is incomplete. Used to split the handshake from what follows it.
 */
export function universalFrameLength(bytes: Uint8Array, maxFrameSize: number): number | undefined {
  let value = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= bytes.length) return undefined;
    const b = bytes[i]!;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) {
      const total = i + 1 + value;
      if (total > maxFrameSize) {
        throw tmeshError(
          'E_FRAME_TOO_LARGE',
          `universal frame of ${total} bytes exceeds the limit of ${maxFrameSize}`,
        );
      }
      return total;
    }
  }
  throw tmeshError('E_FRAME_TOO_LARGE', 'universal frame length prefix is longer than 5 bytes');
}
