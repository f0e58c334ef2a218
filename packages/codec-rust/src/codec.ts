import type {
  DecodedMessage,
  FrameDecoderOptions,
  FrameHeader,
  FrameMeta,
  MessageDecoder,
  MessageRegistry,
  MessageType,
  PayloadCodec,
  RawFrame,
  Schema,
  WireCodec,
  WireEncodeOptions,
} from '@tmesh/core';
import {
  DEFAULT_MAX_FRAME_SIZE,
  FixedFrameDecoder,
  FRAME_FLAGS,
  gatherParts,
  openFrame,
  RUST_FRAME,
  sealFrame,
  sealFrameAt,
  sealFrameParts,
  tmeshError,
} from '@tmesh/core';
import { type CompiledBincode, compileDescRust, compileRust } from './compile.js';
import { acquireWriter, bindWriter, NO_ROOM, releaseBoundWriter, releaseWriter } from './writer.js';

/** Options of {@link createRustCodec}. */
export interface RustCodecOptions {
  /**
   * Largest frame (header + payload) this codec writes or reads; decoders check it before allocating.
   * Default 64 MiB (`DEFAULT_MAX_FRAME_SIZE`).
   */
  maxFrameSize?: number;
}

const HEADER = RUST_FRAME.headerSize;

function checkCompression(header: FrameHeader): void {
  const algorithm = header.flags & FRAME_FLAGS.COMPRESSION_MASK;
  if (algorithm !== FRAME_FLAGS.COMPRESSION_NONE) {
    throw tmeshError(
      'E_COMPRESSION',
      `rust frame seq ${header.sequence}: compression ${algorithm} is applied by the link layer, not by the codec; decompress before decoding`,
    );
  }
}

/** The buffer and offset of `encodeFrameInto`: a Uint8Array and an integer offset within it. */
function checkTarget(buf: Uint8Array, at: number): void {
  if (!(buf instanceof Uint8Array) || !Number.isInteger(at) || at < 0 || at > buf.length) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `rust encodeFrameInto: needs a Uint8Array and an offset within it, got offset ${at}`,
    );
  }
}

/** One header-fields object reused by every encode (sealFrame reads it synchronously): no allocation. */
const META: FrameMeta = { messageType: 0, flags: 0, sequence: 0, timestamp: undefined };

function meta(
  type: MessageType<any>,
  flags: number,
  sequence: number,
  timestamp: number | undefined,
): FrameMeta {
  META.messageType = type.id;
  META.flags = flags;
  META.sequence = sequence;
  META.timestamp = timestamp;
  return META;
}

class RustCodec implements WireCodec {
  readonly wire = 'rust' as const;
  readonly registry: MessageRegistry;
  readonly #max: number;
  /** Compiled payload codec per registered type, indexed by frame id (a u8; filled lazily). */
  readonly #byId: ({ type: MessageType<any>; codec: CompiledBincode<any> } | undefined)[] = new Array(256);

  constructor(registry: MessageRegistry, options: RustCodecOptions) {
    const max = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(max) || max < HEADER) {
      throw tmeshError('E_INVALID_ARGUMENT', `maxFrameSize must be an integer >= ${HEADER}, got ${max}`);
    }
    this.registry = registry;
    this.#max = max;
  }

  compile<T>(schema: Schema<T>): PayloadCodec<T> {
    return compileRust(schema);
  }

  #entry(id: number): { type: MessageType<any>; codec: CompiledBincode<any> } {
    let entry = this.#byId[id];
    if (!entry) {
      const type = this.registry.byId(id);
      entry = { type, codec: compileDescRust(type.schema.desc) };
      this.#byId[id] = entry;
    }
    return entry;
  }

  #check<T>(type: MessageType<T>, options: WireEncodeOptions): CompiledBincode<T> {
    const entry = this.#entry(type?.id);
    if (entry.type !== type) {
      throw tmeshError(
        'E_UNKNOWN_MESSAGE_TYPE',
        `rust encode: message type ${type?.name} (id ${type?.id}) is not the one registered with that id`,
      );
    }
    if (((options.flags ?? 0) & FRAME_FLAGS.COMPRESSION_MASK) !== 0) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        'rust encode: compression flags are set by the link layer after compressing, not by the codec',
      );
    }
    return entry.codec;
  }

  #tooLarge(type: MessageType<any>, size: number): void {
    if (size > this.#max) {
      throw tmeshError(
        'E_FRAME_TOO_LARGE',
        `rust encode ${type.name}: frame of ${size} bytes exceeds maxFrameSize ${this.#max}`,
      );
    }
  }

  encode<T>(type: MessageType<T>, value: T, options: WireEncodeOptions = {}): Uint8Array {
    const codec = this.#check(type, options);
    // Read before the value is encoded (a getter may encode again with other options).
    const { flags = 0, sequence = 0, timestamp } = options;
    const w = acquireWriter();
    try {
      // The header is written last (it holds the payload's size and CRC); the payload goes after it.
      const end = codec.encodeInto(w, value, w.start + HEADER);
      this.#tooLarge(type, end - w.start);
      const frame = w.take(end);
      sealFrame(RUST_FRAME, frame, meta(type, flags, sequence, timestamp));
      return frame;
    } finally {
      releaseWriter(w);
    }
  }

  encodeParts<T>(type: MessageType<T>, value: T, options: WireEncodeOptions = {}): Uint8Array[] {
    const codec = this.#check(type, options);
    // Read before the value is encoded (a getter may encode again with other options).
    const { flags = 0, sequence = 0, timestamp } = options;
    const w = acquireWriter();
    w.gather = true;
    try {
      const end = codec.encodeInto(w, value, w.start + HEADER);
      const refs = w.refs;
      let size = end - w.start;
      for (let i = 1; i < refs.length; i += 2) size += (refs[i] as Uint8Array).length;
      this.#tooLarge(type, size);
      const head = w.take(end);
      const parts = refs.length === 0 ? [head] : gatherParts(head, refs);
      return sealFrameParts(RUST_FRAME, parts, meta(type, flags, sequence, timestamp));
    } finally {
      w.gather = false;
      if (w.refs.length > 0) w.refs = [];
      releaseWriter(w);
    }
  }

  encodeFrameInto<T>(
    type: MessageType<T>,
    value: T,
    options: WireEncodeOptions,
    buf: Uint8Array,
    at: number,
  ): number {
    const codec = this.#check(type, options);
    // Read before the value is encoded (a getter may encode again with other options).
    const { flags = 0, sequence = 0, timestamp } = options;
    checkTarget(buf, at);
    if (buf.length - at < HEADER) return -HEADER;
    const w = bindWriter(buf, at);
    let end: number;
    try {
      end = codec.encodeInto(w, value, at + HEADER);
    } catch (error) {
      if (error === NO_ROOM) return -w.need;
      throw error;
    } finally {
      releaseBoundWriter(w);
    }
    this.#tooLarge(type, end - at);
    return sealFrameAt(RUST_FRAME, buf, at, end, meta(type, flags, sequence, timestamp));
  }

  #open(raw: RawFrame, copy: boolean): DecodedMessage {
    const { header, payload } = raw;
    checkCompression(header);
    const entry = this.#entry(header.messageType);
    const value = entry.codec.decodeRange(payload, 0, payload.length, copy);
    return { type: entry.type, header, value };
  }

  decode(frame: Uint8Array, options?: { copy?: boolean }): DecodedMessage {
    if (!(frame instanceof Uint8Array)) {
      throw tmeshError('E_INVALID_ARGUMENT', 'rust decode: a frame must be a Uint8Array');
    }
    return this.#open(openFrame(RUST_FRAME, frame, this.#max), options?.copy === true);
  }

  createDecoder(options: FrameDecoderOptions & { copy?: boolean } = {}): MessageDecoder {
    const frames = new FixedFrameDecoder(RUST_FRAME, { maxFrameSize: options.maxFrameSize ?? this.#max });
    const copy = options.copy === true;
    let failed: unknown;
    return {
      push: (chunk: Uint8Array): DecodedMessage[] => {
        if (failed) throw failed;
        if (!(chunk instanceof Uint8Array)) {
          throw tmeshError('E_INVALID_ARGUMENT', 'rust decoder: a chunk must be a Uint8Array');
        }
        try {
          const raws = frames.push(chunk);
          const out: DecodedMessage[] = new Array(raws.length);
          for (let i = 0; i < raws.length; i++) out[i] = this.#open(raws[i]!, copy);
          return out;
        } catch (error) {
          // Like the frame decoder, a decoder that threw stays failed: the caller has lost messages.
          failed = error;
          throw error;
        }
      },
      end: (): void => {
        if (failed) throw failed;
        frames.end();
      },
      get bufferedBytes(): number {
        return frames.bufferedBytes;
      },
    };
  }
}

/**
 * The Rust wire: RUST frames (32-byte header, CRC-32 checked on every decode) around bincode 1.x
 * payloads, byte-compatible with Rust `bincode::serialize` / `deserialize` (bincode 1.3 default config).
 */
export function createRustCodec(registry: MessageRegistry, options: RustCodecOptions = {}): WireCodec {
  return new RustCodec(registry, options);
}
