// The Swift wire: SWFT frames (the shared 28-byte fixed header of @tmesh/core) around MessagePack
// payloads compiled from each message type's schema.
import type {
  DecodedMessage,
  FrameDecoderOptions,
  FrameMeta,
  MessageDecoder,
  MessageRegistry,
  MessageType,
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
  SWIFT_FRAME,
  sealFrame,
  sealFrameAt,
  sealFrameParts,
  tmeshError,
} from '@tmesh/core';
import { compileSwift, type SwiftPayloadCodec } from './compile.js';

interface Resolved {
  type: MessageType<unknown>;
  codec: SwiftPayloadCodec<unknown>;
}

/** Options of {@link createSwiftCodec}. */
export interface SwiftCodecOptions {
  /** Largest frame (header + payload) `decode` accepts; default 64 MiB. Decoders take their own. */
  maxFrameSize?: number;
}

/** A Swift-wire codec for the message types of one registry. */
export interface SwiftWireCodec extends WireCodec {
  readonly wire: 'swift';
}

/** Create the Swift-wire codec (SWFT + MessagePack) for the types in `registry`. */
export function createSwiftCodec(registry: MessageRegistry, options: SwiftCodecOptions = {}): SwiftWireCodec {
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < SWIFT_FRAME.headerSize) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `maxFrameSize must be an integer >= ${SWIFT_FRAME.headerSize}, got ${maxFrameSize}`,
    );
  }
  // Types can be added to a registry but never removed, so a resolved id stays valid.
  const resolved: (Resolved | undefined)[] = new Array(256);

  const codecFor = (id: number): Resolved => {
    let entry = resolved[id];
    if (!entry) {
      const type = registry.byId(id);
      entry = { type, codec: compileSwift(type.schema) };
      resolved[id] = entry;
    }
    return entry;
  };

  // One header-fields object reused by every encode (sealFrame reads it synchronously): no allocation.
  const META: FrameMeta = { messageType: 0, flags: 0, sequence: 0, timestamp: undefined };
  const meta = (
    messageType: number,
    flags: number,
    sequence: number,
    timestamp: number | undefined,
  ): FrameMeta => {
    META.messageType = messageType;
    META.flags = flags;
    META.sequence = sequence;
    META.timestamp = timestamp;
    return META;
  };

  const checkEncode = (type: MessageType<any>, encodeOptions: WireEncodeOptions): number => {
    const registered = registry.byId(type?.id);
    if (registered !== (type as MessageType<unknown>) && registered.schema !== type.schema) {
      throw tmeshError(
        'E_UNKNOWN_MESSAGE_TYPE',
        `message type ${type.name} is not the one registered with id ${type.id} (${registered.name})`,
      );
    }
    const flags = encodeOptions.flags ?? 0;
    if ((flags & FRAME_FLAGS.COMPRESSION_MASK) !== 0) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        'the Swift codec writes uncompressed payloads; compression flags belong to the layer that compresses',
      );
    }
    return flags;
  };

  const decodeRaw = (raw: RawFrame, copy: boolean): DecodedMessage => {
    const { header, payload } = raw;
    if ((header.flags & FRAME_FLAGS.COMPRESSION_MASK) !== FRAME_FLAGS.COMPRESSION_NONE) {
      throw tmeshError(
        'E_COMPRESSION',
        `swift frame seq ${header.sequence}: compression ${header.flags & FRAME_FLAGS.COMPRESSION_MASK} must be undone before the codec decodes the payload`,
      );
    }
    const { type, codec } = codecFor(header.messageType);
    return { type, header, value: codec.decodePayload(payload, copy) };
  };

  return {
    wire: 'swift',
    registry,
    compile<T>(schema: Schema<T>) {
      return compileSwift(schema);
    },
    encode<T>(type: MessageType<T>, value: T, encodeOptions: WireEncodeOptions = {}): Uint8Array {
      const flags = checkEncode(type, encodeOptions);
      // Read before the value is encoded (a getter may encode again with other options).
      const { sequence = 0, timestamp } = encodeOptions;
      const { codec } = codecFor(type.id);
      const frame = codec.encodeWithReserve(value, SWIFT_FRAME.headerSize);
      return sealFrame(SWIFT_FRAME, frame, meta(type.id, flags, sequence, timestamp));
    },
    encodeParts<T>(type: MessageType<T>, value: T, encodeOptions: WireEncodeOptions = {}): Uint8Array[] {
      const flags = checkEncode(type, encodeOptions);
      // Read before the value is encoded (a getter may encode again with other options).
      const { sequence = 0, timestamp } = encodeOptions;
      const { codec } = codecFor(type.id);
      const { head, refs } = codec.encodeGather(value, SWIFT_FRAME.headerSize);
      return sealFrameParts(
        SWIFT_FRAME,
        refs.length === 0 ? [head] : gatherParts(head, refs),
        meta(type.id, flags, sequence, timestamp),
      );
    },
    encodeFrameInto<T>(
      type: MessageType<T>,
      value: T,
      encodeOptions: WireEncodeOptions,
      buf: Uint8Array,
      at: number,
    ): number {
      const flags = checkEncode(type, encodeOptions);
      // Read before the value is encoded (a getter may encode again with other options).
      const { sequence = 0, timestamp } = encodeOptions;
      if (!(buf instanceof Uint8Array) || !Number.isInteger(at) || at < 0 || at > buf.length) {
        throw tmeshError(
          'E_INVALID_ARGUMENT',
          `swift encodeFrameInto: needs a Uint8Array and an offset within it, got offset ${at}`,
        );
      }
      const hs = SWIFT_FRAME.headerSize;
      if (buf.length - at < hs) return -hs;
      const end = codecFor(type.id).codec.encodeInto(value, hs, buf, at);
      if (end < 0) return end;
      return sealFrameAt(SWIFT_FRAME, buf, at, end, meta(type.id, flags, sequence, timestamp));
    },
    decode(frame: Uint8Array, decodeOptions?: { copy?: boolean }): DecodedMessage {
      if (!(frame instanceof Uint8Array))
        throw tmeshError('E_INVALID_ARGUMENT', 'decode expects a Uint8Array');
      return decodeRaw(openFrame(SWIFT_FRAME, frame, maxFrameSize), decodeOptions?.copy === true);
    },
    createDecoder(decoderOptions: FrameDecoderOptions & { copy?: boolean } = {}): MessageDecoder {
      const frames = new FixedFrameDecoder(SWIFT_FRAME, {
        maxFrameSize: decoderOptions.maxFrameSize ?? maxFrameSize,
      });
      const copy = decoderOptions.copy === true;
      let failed: unknown;
      return {
        push(chunk: Uint8Array): DecodedMessage[] {
          if (failed) throw failed;
          if (!(chunk instanceof Uint8Array))
            throw tmeshError('E_INVALID_ARGUMENT', 'push expects a Uint8Array');
          try {
            const raws = frames.push(chunk);
            const out: DecodedMessage[] = new Array(raws.length);
            for (let i = 0; i < raws.length; i++) out[i] = decodeRaw(raws[i]!, copy);
            return out;
          } catch (error) {
            // A frame that fails to decode leaves the frames after it in the same chunk undelivered:
            // the stream is no longer trustworthy, so the decoder stays failed.
            failed = error;
            throw error;
          }
        },
        end(): void {
          if (failed) throw failed;
          frames.end();
        },
        get bufferedBytes(): number {
          return frames.bufferedBytes;
        },
      };
    },
  };
}
