/**
 * Every stable error code tmesh can raise, with the one-line meaning that docs/ERRORS.md repeats.
 * Codes never change meaning once published; new codes are added at the end of their group.
 */
export const ERROR_CODES = {
  // general
  E_INVALID_ARGUMENT: 'An argument to a tmesh API is out of range or of the wrong kind.',
  E_INTERNAL: 'An invariant inside tmesh broke; please report it with the message.',
  E_TIMEOUT: 'An operation did not finish before its deadline.',
  E_ABORTED: 'An operation was cancelled through its AbortSignal.',
  E_CLOSED: 'The node, link or channel was closed before or during the operation.',
  E_NOT_SUPPORTED: 'The operation is not available on this platform or in this configuration.',
  E_MACHINE_ID: 'No machine identity could be read or derived.',
  E_PERMISSION: 'A file, directory or socket is owned by another user or has permissions that are too wide.',
  E_CONFIG: 'A configuration file or option is missing, unreadable or invalid.',
  // schema and registry
  E_SCHEMA_INVALID: 'A schema definition is malformed (bad name, bad tag, empty enum, ...).',
  E_SCHEMA_DUPLICATE_FIELD:
    'A struct declares the same field name or tag twice, or an enum the same variant twice.',
  E_SCHEMA_UNKNOWN_TYPE: 'A schema refers to a type that does not exist.',
  E_SCHEMA_PROTO_PARSE: 'A .proto file could not be parsed.',
  E_SCHEMA_UNSUPPORTED: 'A schema construct has no mapping on one of the wires.',
  E_REGISTRY_DUPLICATE: 'Two message types were registered with the same name or id.',
  E_UNKNOWN_MESSAGE_TYPE: 'A frame names a message type that is not registered.',
  // encoding
  E_ENCODE_INVALID_VALUE: 'A value given to an encoder does not match its schema.',
  E_RANGE: 'A number does not fit the integer width its schema declares.',
  // framing and decoding
  E_FRAME_TRUNCATED: 'A frame or payload ended before the bytes its header or fields promise.',
  E_BAD_MAGIC: 'A frame does not start with the magic number of its wire.',
  E_UNSUPPORTED_VERSION: 'A frame or peer uses a protocol version this build does not speak.',
  E_CHECKSUM: 'The CRC-32 in a frame header does not match its payload.',
  E_FRAME_TOO_LARGE: 'A frame is larger than the configured maximum frame size.',
  E_INVALID_UTF8: 'A string field holds bytes that are not valid UTF-8.',
  E_INVALID_BOOL: 'A bool field holds a byte other than 0 or 1.',
  E_INVALID_OPTION_TAG: 'An Option tag byte is neither 0 (None) nor 1 (Some).',
  E_INVALID_ENUM_VARIANT: 'An enum variant index or name is not declared by the schema.',
  E_TRAILING_BYTES: 'Bytes remain after a complete payload was decoded.',
  E_VARINT_OVERFLOW: 'A varint is longer than 10 bytes or overflows 64 bits.',
  E_MISSING_FIELD: 'A required field is absent from a decoded message.',
  E_DECODE: 'A payload is malformed in a way no more specific code describes.',
  E_COMPRESSION:
    'A compressed payload could not be decompressed, would decompress beyond the frame limit, or uses an algorithm the link did not agree on.',
  // shared memory
  E_SHM_NAME: 'A shared-memory channel name is empty, too long or contains a forbidden character.',
  E_SHM_EXISTS: 'A shared-memory region with that name already exists and is alive.',
  E_SHM_NOT_FOUND: 'No shared-memory region with that name exists.',
  E_SHM_PERMISSION: 'The OS refused access to a shared-memory region.',
  E_SHM_OWNER: 'A shared-memory region is owned by another user or has permissions wider than 0600.',
  E_SHM_TOKEN: 'The per-channel token given does not match the region.',
  E_SHM_CORRUPT: 'A shared-memory region header or record is inconsistent.',
  E_SHM_FULL: 'The ring has no room for the record now (try-send only).',
  E_NATIVE_UNAVAILABLE: 'The native shared-memory addon could not be loaded.',
  E_PEER_GONE: 'The peer process died or stopped its heartbeat.',
  // network
  E_CONNECTION: 'A network connection failed or was reset.',
  E_HANDSHAKE: 'The link handshake failed (malformed Hello, or no reply in time).',
  E_VERSION_MISMATCH: 'The two ends share no protocol version.',
  E_NO_COMMON_WIRE: 'The two ends share no wire format.',
  E_AUTH: 'The peer failed authentication (certificate, PSK or token).',
  E_BACKPRESSURE: 'A bounded send queue is full and the caller asked not to wait.',
  E_NO_ROUTE: 'No transport can reach the destination node.',
} as const;

/** A stable string code identifying one kind of tmesh failure. */
export type TmeshErrorCode = keyof typeof ERROR_CODES;

/** Options for {@link TmeshError}: the underlying cause and free-form details for logs. */
export interface TmeshErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** The one error family of tmesh: a stable `code`, a message that says what and where, and `cause`. */
export class TmeshError extends Error {
  override readonly name = 'TmeshError';
  readonly code: TmeshErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: TmeshErrorCode, message: string, options: TmeshErrorOptions = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

/**
 * True for any TmeshError, including one from another copy of this package or another realm:
 * it checks `name` and `code`, not `instanceof`. Pass `code` to test for one kind.
 */
export function isTmeshError(value: unknown, code?: TmeshErrorCode): value is TmeshError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  if (v.name !== 'TmeshError' || typeof v.code !== 'string' || !(v.code in ERROR_CODES)) return false;
  return code === undefined || v.code === code;
}

/** Shorthand used by every layer: build a TmeshError. */
export function tmeshError(code: TmeshErrorCode, message: string, options?: TmeshErrorOptions): TmeshError {
  return new TmeshError(code, message, options);
}
