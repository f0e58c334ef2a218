import { crc32, crc32Range } from './crc32.js';
import { tmeshError } from './errors.js';
import type { WireId } from './node.js';

/**
 * The fixed header of the Swift and Rust wires: the same fields at the same offsets, little-endian.
 * magic u32 @0, version u8 @4, messageType u8 @5, flags u16 @6, payloadSize u32 @8,
 * sequenceNumber u32 @12, timestamp u64 @16 (ms since the Unix epoch), checksum u32 @24 (CRC-32 of the
 * payload); the Rust wire adds 4 zero bytes of padding @28 (`#[repr(C)]` size 32).
 */
export interface FixedFrameLayout {
  readonly wire: WireId;
  readonly magic: number;
  readonly headerSize: number;
  readonly version: number;
}

/** SWFT frames: 28-byte header, version 1. */
export const SWIFT_FRAME: FixedFrameLayout = Object.freeze({
  wire: 'swift',
  magic: 0x53574654,
  headerSize: 28,
  version: 1,
});
/** RUST frames: 32-byte header (4 trailing zero bytes), version 1. */
export const RUST_FRAME: FixedFrameLayout = Object.freeze({
  wire: 'rust',
  magic: 0x52555354,
  headerSize: 32,
  version: 1,
});

/** Default ceiling on one frame (header + payload), checked before anything is allocated. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

/**
 * Frame flag bits (u16), shared by every wire. Bits 0-2 carry the compression algorithm of the
 * payload; the checksum always covers the payload bytes as sent (compressed if compressed).
 */
export const FRAME_FLAGS = Object.freeze({
  COMPRESSION_MASK: 0x0007,
  COMPRESSION_NONE: 0,
  COMPRESSION_DEFLATE: 1,
  COMPRESSION_ZSTD: 2,
  COMPRESSION_LZ4: 3,
  /** The frame answers a request (request/response correlation by sequence number). */
  RESPONSE: 0x0008,
  /** The sender expects a response. */
  REQUEST: 0x0010,
});

/** The header fields of one frame. */
export interface FrameHeader {
  version: number;
  messageType: number;
  flags: number;
  payloadSize: number;
  sequence: number;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  checksum: number;
}

/** A frame split into its checked header and its payload (a view into the input when possible). */
export interface RawFrame {
  header: FrameHeader;
  payload: Uint8Array;
}

/** Header fields a sender chooses; the rest (version, size, checksum) are computed. */
export interface FrameMeta {
  messageType: number;
  flags?: number;
  sequence?: number;
  /** Milliseconds since the Unix epoch; defaults to Date.now(). */
  timestamp?: number;
}

function u16ok(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffff;
}

/** Check the header fields; returns the timestamp to write (Date.now() when meta has none). */
function checkMeta(layout: FixedFrameLayout, payloadSize: number, meta: FrameMeta): number {
  if (payloadSize < 0 || payloadSize > 0xffffffff) {
    throw tmeshError('E_INVALID_ARGUMENT', `${layout.wire} frame: payload size ${payloadSize} out of range`);
  }
  const { messageType, flags = 0, sequence = 0, timestamp = Date.now() } = meta;
  if (!Number.isInteger(messageType) || messageType < 0 || messageType > 255) {
    throw tmeshError('E_RANGE', `${layout.wire} frame: messageType ${messageType} does not fit u8`);
  }
  if (!u16ok(flags)) throw tmeshError('E_RANGE', `${layout.wire} frame: flags ${flags} do not fit u16`);
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > 0xffffffff) {
    throw tmeshError('E_RANGE', `${layout.wire} frame: sequence ${sequence} does not fit u32`);
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw tmeshError(
      'E_RANGE',
      `${layout.wire} frame: timestamp ${timestamp} must be a non-negative safe integer (ms)`,
    );
  }
  return timestamp;
}

/**
 * Write a header whose fields were checked by checkMeta at `frame[at ..]` (no object is allocated per
 * frame).
 */
function writeHeader(
  layout: FixedFrameLayout,
  frame: Uint8Array,
  at: number,
  payloadSize: number,
  checksum: number,
  meta: FrameMeta,
  timestamp: number,
): void {
  const flags = meta.flags ?? 0;
  // Plain byte stores: cheaper than a DataView per frame on small messages.
  writeU32(frame, at, layout.magic);
  frame[at + 4] = layout.version;
  frame[at + 5] = meta.messageType;
  frame[at + 6] = flags & 0xff;
  frame[at + 7] = flags >>> 8;
  writeU32(frame, at + 8, payloadSize);
  writeU32(frame, at + 12, meta.sequence ?? 0);
  // `>>> 0` is the value modulo 2^32 (exact for a safe integer), without a float modulo (~5 ns).
  writeU32(frame, at + 16, timestamp >>> 0);
  writeU32(frame, at + 20, Math.floor(timestamp / 0x100000000));
  writeU32(frame, at + 24, checksum);
  for (let i = 28; i < layout.headerSize; i++) frame[at + i] = 0;
}

/**
 * Write the header for the payload that already sits at `frame[layout.headerSize ..]`, computing its
 * size and CRC-32. `frame` must be exactly header + payload long. Returns `frame`.
 */
export function sealFrame(layout: FixedFrameLayout, frame: Uint8Array, meta: FrameMeta): Uint8Array {
  const payloadSize = frame.length - layout.headerSize;
  const timestamp = checkMeta(layout, payloadSize, meta);
  writeHeader(
    layout,
    frame,
    0,
    payloadSize,
    crc32Range(frame, layout.headerSize, frame.length),
    meta,
    timestamp,
  );
  return frame;
}

/**
 * `sealFrame` for a frame that lies at `buf[start, end)` of a larger buffer (a sender's batch of
 * frames): writes the header at `start` for the payload at `buf[start + layout.headerSize, end)`,
 * computing its size and CRC-32, without a view of the frame. Returns `end`.
 */
export function sealFrameAt(
  layout: FixedFrameLayout,
  buf: Uint8Array,
  start: number,
  end: number,
  meta: FrameMeta,
): number {
  const payloadStart = start + layout.headerSize;
  if (
    !(
      Number.isInteger(start) &&
      Number.isInteger(end) &&
      start >= 0 &&
      payloadStart <= end &&
      end <= buf.length
    )
  ) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `${layout.wire} frame: range [${start}, ${end}) does not hold a header within ${buf.length} bytes`,
    );
  }
  const payloadSize = end - payloadStart;
  const timestamp = checkMeta(layout, payloadSize, meta);
  // Byte stores, like sealFrame: a DataView cached per buffer cost a C++ call per frame (reading
  // `buf.buffer`) and a new view each time the buffer changed (links of one process alternate).
  writeHeader(layout, buf, start, payloadSize, crc32Range(buf, payloadStart, end), meta, timestamp);
  return end;
}

/**
 * Bytes fields at least this long are written by reference when a codec encodes into parts
 * (`WireCodec.encodeParts`): the frame's parts then include the caller's array itself, not a copy.
 */
export const GATHER_MIN_BYTES = 64 * 1024;

/**
 * Cut `head` (the bytes a codec wrote: header room, then the payload with the referenced arrays left
 * out) into the parts of the frame: `refs` holds pairs (offset into `head`, array that stands there), in
 * increasing offset order. Concatenated, the parts are the frame.
 */
export function gatherParts(head: Uint8Array, refs: readonly (number | Uint8Array)[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < refs.length; i += 2) {
    const offset = refs[i] as number;
    const bytes = refs[i + 1] as Uint8Array;
    if (offset > at) parts.push(head.subarray(at, offset));
    if (bytes.length > 0) parts.push(bytes);
    at = offset;
  }
  if (at < head.length || parts.length === 0) parts.push(head.subarray(at));
  return parts;
}

/** CRC-32 of the payload of a frame given as parts (the header is the first `headerSize` bytes). */
export function partsChecksum(headerSize: number, parts: readonly Uint8Array[]): number {
  let crc = 0;
  let skip = headerSize;
  for (const part of parts) {
    if (skip >= part.length) {
      skip -= part.length;
      continue;
    }
    crc = skip > 0 ? crc32Range(part, skip, part.length, crc) : crc32(part, crc);
    skip = 0;
  }
  return crc;
}

/**
 * `sealFrame` for a frame given as parts (a gather write): `parts[0]` starts with the header room (at
 * least `layout.headerSize` bytes), the payload is the rest of `parts[0]` and every later part. Writes
 * the header into `parts[0]`, computing the payload's size and CRC-32 over all parts. Returns `parts`.
 */
export function sealFrameParts(layout: FixedFrameLayout, parts: Uint8Array[], meta: FrameMeta): Uint8Array[] {
  const first = parts[0];
  if (!first || first.length < layout.headerSize) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `${layout.wire} frame: the first part must hold the ${layout.headerSize}-byte header`,
    );
  }
  let total = 0;
  for (const part of parts) total += part.length;
  const payloadSize = total - layout.headerSize;
  const timestamp = checkMeta(layout, payloadSize, meta);
  writeHeader(layout, first, 0, payloadSize, partsChecksum(layout.headerSize, parts), meta, timestamp);
  return parts;
}

/**
 * Recompute the checksum of a frame given as parts whose payload bytes may have changed since it was
 * sealed (a referenced array modified by its owner); returns true if it changed.
 */
export function resealFrameParts(layout: FixedFrameLayout, parts: readonly Uint8Array[]): boolean {
  const first = parts[0]!;
  const crc = partsChecksum(layout.headerSize, parts);
  if (readU32(first, 24) === crc) return false;
  writeU32(first, 24, crc);
  return true;
}

/**
 * Read and check a header at `bytes[offset ..]`: magic, version and the size limit. The checksum is
 * not checked here (the payload may not have arrived yet); see {@link checkPayload}.
 */
export function readFrameHeader(
  layout: FixedFrameLayout,
  bytes: Uint8Array,
  offset = 0,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
): FrameHeader {
  if (bytes.length - offset < layout.headerSize) {
    throw tmeshError(
      'E_FRAME_TRUNCATED',
      `${layout.wire} frame: header needs ${layout.headerSize} bytes, got ${bytes.length - offset}`,
    );
  }
  const magic = readU32(bytes, offset);
  if (magic !== layout.magic) {
    throw tmeshError(
      'E_BAD_MAGIC',
      `${layout.wire} frame: magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${layout.magic.toString(16)}`,
    );
  }
  const version = bytes[offset + 4]!;
  if (version !== layout.version) {
    throw tmeshError(
      'E_UNSUPPORTED_VERSION',
      `${layout.wire} frame: version ${version}, this build speaks ${layout.version}`,
    );
  }
  const payloadSize = readU32(bytes, offset + 8);
  if (layout.headerSize + payloadSize > maxFrameSize) {
    throw tmeshError(
      'E_FRAME_TOO_LARGE',
      `${layout.wire} frame: header announces ${payloadSize} payload bytes, limit is ${maxFrameSize - layout.headerSize}`,
    );
  }
  return {
    version,
    messageType: bytes[offset + 5]!,
    flags: bytes[offset + 6]! | (bytes[offset + 7]! << 8),
    payloadSize,
    sequence: readU32(bytes, offset + 12),
    timestamp: readU32(bytes, offset + 16) + readU32(bytes, offset + 20) * 0x100000000,
    checksum: readU32(bytes, offset + 24),
  };
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Throw E_CHECKSUM unless the payload's CRC-32 matches the header. */
export function checkPayload(layout: FixedFrameLayout, header: FrameHeader, payload: Uint8Array): void {
  const actual = crc32(payload);
  if (actual !== header.checksum) {
    throw tmeshError(
      'E_CHECKSUM',
      `${layout.wire} frame seq ${header.sequence}: payload CRC-32 0x${actual.toString(16)}, header says 0x${header.checksum.toString(16)}`,
    );
  }
}

/** Split one complete frame (exactly one, no trailing bytes) into header and payload, all checks done. */
export function openFrame(
  layout: FixedFrameLayout,
  frame: Uint8Array,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
): RawFrame {
  const header = readFrameHeader(layout, frame, 0, maxFrameSize);
  const end = layout.headerSize + header.payloadSize;
  if (frame.length < end) {
    throw tmeshError(
      'E_FRAME_TRUNCATED',
      `${layout.wire} frame: header announces ${header.payloadSize} payload bytes, got ${frame.length - layout.headerSize}`,
    );
  }
  if (frame.length > end)
    throw tmeshError(
      'E_TRAILING_BYTES',
      `${layout.wire} frame: ${frame.length - end} bytes after the payload`,
    );
  const payload = frame.subarray(layout.headerSize, end);
  checkPayload(layout, header, payload);
  return { header, payload };
}

/** Options of an incremental frame decoder. */
export interface FrameDecoderOptions {
  /** Largest frame (header + payload) accepted; checked before allocating. Default 64 MiB. */
  maxFrameSize?: number;
}

/**
 * Turns a byte stream cut anywhere into checked frames. A payload that lies inside one pushed chunk is
 * returned as a view of it (no copy); one that spans chunks is assembled once, after its size passed the
 * limit check. After an error the decoder is poisoned: the stream has lost its framing.
 */
export class FixedFrameDecoder {
  readonly #layout: FixedFrameLayout;
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #header: FrameHeader | undefined;
  #failed: unknown;

  constructor(layout: FixedFrameLayout, options: FrameDecoderOptions = {}) {
    const max = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(max) || max < layout.headerSize) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        `maxFrameSize must be an integer >= ${layout.headerSize}, got ${max}`,
      );
    }
    this.#layout = layout;
    this.#max = max;
  }

  /** Bytes received but not yet returned as part of a frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Feed bytes; returns every frame completed by them, in order. */
  push(chunk: Uint8Array): RawFrame[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#push(chunk);
    } catch (error) {
      this.#failed = error;
      this.#chunks = [];
      this.#buffered = 0;
      throw error;
    }
  }

  /** Declare the end of the stream: throws E_FRAME_TRUNCATED if a partial frame is left. */
  end(): void {
    if (this.#failed) throw this.#failed;
    if (this.#buffered > 0) {
      throw tmeshError(
        'E_FRAME_TRUNCATED',
        `${this.#layout.wire} stream ended inside a frame (${this.#buffered} bytes pending)`,
      );
    }
  }

  #push(chunk: Uint8Array): RawFrame[] {
    const out: RawFrame[] = [];
    if (this.#buffered > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (!this.#completePending(out)) return out;
      // The pending frame is done. Its bytes needed part of this chunk, so what is left lies within
      // this chunk: one view to parse in place (joined defensively if it ever were more).
      chunk =
        this.#chunks.length <= 1 ? (this.#chunks[0] ?? new Uint8Array(0)) : this.#take(this.#buffered, false);
      this.#chunks = [];
      this.#buffered = 0;
    }
    const hs = this.#layout.headerSize;
    // Fast path: frames straight out of the chunk, as views, no copy.
    let offset = 0;
    while (chunk.length - offset >= hs) {
      const header = readFrameHeader(this.#layout, chunk, offset, this.#max);
      const end = offset + hs + header.payloadSize;
      if (end > chunk.length) break;
      const payload = chunk.subarray(offset + hs, end);
      checkPayload(this.#layout, header, payload);
      out.push({ header, payload });
      offset = end;
    }
    if (offset < chunk.length) {
      const rest = chunk.subarray(offset);
      this.#chunks.push(rest);
      this.#buffered = rest.length;
      if (rest.length >= hs) this.#header = readFrameHeader(this.#layout, rest, 0, this.#max);
    }
    return out;
  }

  /** Complete the frame that spans chunks, if enough bytes are buffered; true when it is done. */
  #completePending(out: RawFrame[]): boolean {
    const hs = this.#layout.headerSize;
    if (!this.#header) {
      if (this.#buffered < hs) return false;
      this.#header = readFrameHeader(this.#layout, this.#take(hs, true), 0, this.#max);
    }
    const header = this.#header;
    if (this.#buffered < hs + header.payloadSize) return false;
    this.#take(hs, false);
    const payload = this.#take(header.payloadSize, false);
    this.#header = undefined;
    checkPayload(this.#layout, header, payload);
    out.push({ header, payload });
    return true;
  }

  /** Take (or with `peek`, look at) the next n buffered bytes, copying only when they span chunks. */
  #take(n: number, peek: boolean): Uint8Array {
    const first = this.#chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first && first.length >= n) {
      const view = first.subarray(0, n);
      if (!peek) {
        if (first.length === n) this.#chunks.shift();
        else this.#chunks[0] = first.subarray(n);
        this.#buffered -= n;
      }
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const c = this.#chunks[i]!;
      const part = Math.min(c.length, n - filled);
      out.set(c.subarray(0, part), filled);
      filled += part;
      if (!peek) {
        if (part === c.length) {
          this.#chunks.shift();
          continue;
        }
        this.#chunks[0] = c.subarray(part);
      }
      i++;
    }
    if (!peek) this.#buffered -= n;
    return out;
  }
}
