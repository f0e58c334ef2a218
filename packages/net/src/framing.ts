import { createRustCodec } from '@tmesh/codec-rust';
import { createSwiftCodec } from '@tmesh/codec-swift';
import { createUniversalCodec } from '@tmesh/codec-universal';
import {
  type CompressionAlgorithm,
  DEFAULT_MAX_FRAME_SIZE,
  type DecodedMessage,
  FixedFrameDecoder,
  type FixedFrameLayout,
  FRAME_FLAGS,
  type MessageRegistry,
  type MessageType,
  type PayloadCodec,
  RUST_FRAME,
  readFrameHeader,
  SWIFT_FRAME,
  sealFrame,
  tmeshError,
  type WireCodec,
  type WireId,
} from '@tmesh/core';
import { compress, compressionFlag, decompress } from './compression.js';

/** Turns pushed chunks into decoded messages (control and application alike). */
export type FrameReader = (chunk: Uint8Array) => DecodedMessage[];

/** What the link needs from a wire: encode a message into a frame, compress a frame, read a stream. */
export interface WireAdapter {
  readonly wire: WireId;
  /** One complete uncompressed frame. */
  encode<T>(type: MessageType<T>, value: T, sequence: number, flags: number): Uint8Array;
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
  /** A stream reader; frames larger than maxFrameSize fail with E_FRAME_TOO_LARGE before allocation. */
  createReader(maxFrameSize: number): FrameReader;
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
    else codec = createUniversalCodec(registry, options);
    byWire.set(wire, codec);
  }
  return codec;
}

/** Adapter for the SWFT and RUST wires: the codec's own encoder, decoding through core's frame decoder. */
class FixedWireAdapter implements WireAdapter {
  readonly wire: WireId;
  readonly #layout: FixedFrameLayout;
  readonly #codec: WireCodec;
  readonly #registry: MessageRegistry;
  readonly #payload = new Map<number, { type: MessageType<any>; codec: PayloadCodec<any> }>();

  constructor(layout: FixedFrameLayout, registry: MessageRegistry) {
    this.wire = layout.wire;
    this.#layout = layout;
    this.#registry = registry;
    this.#codec = codecFor(layout.wire, registry);
  }

  encode<T>(type: MessageType<T>, value: T, sequence: number, flags: number): Uint8Array {
    return this.#codec.encode(type, value, { sequence, flags });
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
      entry = { type, codec: this.#codec.compile(type.schema) };
      this.#payload.set(id, entry);
    }
    return entry;
  }

  createReader(maxFrameSize: number): FrameReader {
    const frames = new FixedFrameDecoder(this.#layout, { maxFrameSize });
    return (chunk) => {
      const raws = frames.push(chunk);
      const out: DecodedMessage[] = new Array(raws.length);
      for (let i = 0; i < raws.length; i++) {
        const { header, payload } = raws[i]!;
        const entry = this.#entry(header.messageType);
        const plain = decompress(header.flags & FRAME_FLAGS.COMPRESSION_MASK, payload, maxFrameSize);
        out[i] = { type: entry.type, header, value: entry.codec.decode(plain) };
      }
      return out;
    };
  }
}

/** Adapter for the universal wire: varint-delimited protobuf Envelopes (docs/PROTOCOL.md section 5). */
class UniversalWireAdapter implements WireAdapter {
  readonly wire: WireId = 'universal';
  readonly #codec: WireCodec;

  constructor(registry: MessageRegistry) {
    this.#codec = codecFor('universal', registry);
  }

  encode<T>(type: MessageType<T>, value: T, sequence: number, flags: number): Uint8Array {
    return this.#codec.encode(type, value, { sequence, flags });
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
    const packed = this.#codec.encode(type, value, { sequence, flags: flags | compressionFlag(algorithm) });
    return packed.length < plain.length ? packed : undefined;
  }

  createReader(maxFrameSize: number): FrameReader {
    const decoder = this.#codec.createDecoder({ maxFrameSize });
    return (chunk) => decoder.push(chunk);
  }
}

const adapters = new WeakMap<MessageRegistry, Map<WireId, WireAdapter>>();

/** The adapter of a wire for a link registry (cached). */
export function wireAdapter(wire: WireId, registry: MessageRegistry): WireAdapter {
  let byWire = adapters.get(registry);
  if (!byWire) {
    byWire = new Map();
    adapters.set(registry, byWire);
  }
  let adapter = byWire.get(wire);
  if (!adapter) {
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
