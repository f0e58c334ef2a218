import type { FrameDecoderOptions, FrameHeader } from './frame.js';
import type { WireId } from './node.js';
import type { MessageRegistry, MessageType } from './registry.js';
import type { Schema } from './schema.js';

/** A payload encoder/decoder compiled from one schema (no framing). */
export interface PayloadCodec<T> {
  /** Encode a value; the result is a fresh Uint8Array the caller owns. */
  encode(value: T): Uint8Array;
  /**
   * Decode exactly one value from `bytes` (trailing bytes are an error). Bytes fields are views into
   * `bytes` unless `copy` is true.
   */
  decode(bytes: Uint8Array, options?: { copy?: boolean }): T;
}

/** Header fields a sender may set when encoding a frame. */
export interface WireEncodeOptions {
  sequence?: number;
  flags?: number;
  /** Milliseconds since the Unix epoch; defaults to Date.now(). */
  timestamp?: number;
  /** Sender node id (universal wire only; the fixed-header wires have no room for it). */
  source?: string;
  /** Destination node id (universal wire only). */
  destination?: string;
}

/** One message taken out of a frame. */
export interface DecodedMessage<T = unknown> {
  type: MessageType<T>;
  header: FrameHeader;
  value: T;
  /** Sender and destination node ids, when the wire carries them (universal). */
  source?: string;
  destination?: string;
}

/** An incremental decoder: push chunks cut anywhere, get whole messages. */
export interface MessageDecoder {
  push(chunk: Uint8Array): DecodedMessage[];
  /** Throws E_FRAME_TRUNCATED if the stream ended inside a frame. */
  end(): void;
  readonly bufferedBytes: number;
}

/** The interface every wire codec offers, so transports treat the three wires alike. */
export interface WireCodec {
  readonly wire: WireId;
  readonly registry: MessageRegistry;
  /** The payload codec for a schema (compiled once, cached). */
  compile<T>(schema: Schema<T>): PayloadCodec<T>;
  /** Encode one message into one complete frame. */
  encode<T>(type: MessageType<T>, value: T, options?: WireEncodeOptions): Uint8Array;
  /**
   * Encode one message as the parts of one frame, for a gather write (`writev`): concatenated, the parts
   * are exactly what `encode` returns. Bytes fields of at least `GATHER_MIN_BYTES` (64 KiB) are not
   * copied: the caller's array itself is one of the parts. Lifetime: such an array must not be modified
   * until the parts have been written (for a link: until the message is acknowledged, since it may be
   * written again after a reconnect); modified earlier, the peer may see other bytes than were meant.
   * Optional: a codec without it is used through `encode`.
   */
  encodeParts?<T>(type: MessageType<T>, value: T, options?: WireEncodeOptions): Uint8Array[];
  /**
   * Encode one message as one complete frame written straight into the caller's buffer at `buf[at ..]`
   * (a sender batching frames into its own write buffer: no frame array of its own, no copy). Returns
   * the frame's end, the same bytes `encode` returns lying at `buf[at, end)`. When the encoder runs out
   * of room before `buf.length` (it reserves a string's worst-case UTF-8 size before writing it, so a
   * buffer must have that much slack), returns `-need` instead: `need` (more than `buf.length - at`) is the room
   * the encoder asked for where it stopped, an estimate of the frame's size for the caller to choose
   * between a fresh buffer and `encodeParts` (at least the bytes encoded so far and those that did not
   * fit; a string's worst-case UTF-8 size may make it larger than the frame). Bytes of `buf` from `at` on
   * may then have been overwritten; nothing else changed. Bad values throw as in `encode`.
   * Optional: a codec without it is used through `encodeParts` / `encode`.
   */
  encodeFrameInto?<T>(
    type: MessageType<T>,
    value: T,
    options: WireEncodeOptions,
    buf: Uint8Array,
    at: number,
  ): number;
  /** Decode exactly one complete frame. */
  decode(frame: Uint8Array, options?: { copy?: boolean }): DecodedMessage;
  /** A decoder for a byte stream of frames. */
  createDecoder(options?: FrameDecoderOptions & { copy?: boolean }): MessageDecoder;
}
