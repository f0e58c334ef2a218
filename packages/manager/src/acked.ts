import { compileRust } from '@tmesh/codec-rust';
import { type MessageRegistry, type MessageType, tmeshError } from '@tmesh/core';

/**
 * An Echo request whose payload starts with these 12 bytes carries an acked message (docs/PROTOCOL.md
 * section 8.2): a TypeScript node hands it to its consumers and answers with an empty Echo, or refuses
 * it with an error. A peer that only echoes answers with the payload itself: it did not take it.
 */
export const ACKED_MARKER = new TextEncoder().encode('tmesh:acked\0');

/** The Echo payload carrying `value` of `type`: marker, u32 type id (little-endian), bincode payload. */
export function encodeAcked<T>(type: MessageType<T>, value: T): Uint8Array {
  const body = compileRust(type.schema).encode(value);
  const out = new Uint8Array(ACKED_MARKER.length + 4 + body.length);
  out.set(ACKED_MARKER, 0);
  new DataView(out.buffer).setUint32(ACKED_MARKER.length, type.id, true);
  out.set(body, ACKED_MARKER.length + 4);
  return out;
}

/** Whether an Echo payload carries an acked message. */
export function isAcked(payload: Uint8Array): boolean {
  if (payload.length < ACKED_MARKER.length + 4) return false;
  for (let i = 0; i < ACKED_MARKER.length; i++) if (payload[i] !== ACKED_MARKER[i]) return false;
  return true;
}

/** Decode an acked message: its type (registered, an application type) and value, and its payload size. */
export function decodeAcked(
  payload: Uint8Array,
  registry: MessageRegistry,
): { type: MessageType<unknown>; value: unknown; bytes: number } {
  const at = ACKED_MARKER.length;
  const id = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(at, true);
  if (id < 1 || id > 239) {
    throw tmeshError('E_INVALID_ARGUMENT', `an acked message carries application type ids 1..239, got ${id}`);
  }
  const type = registry.byId(id);
  const body = payload.subarray(at + 4);
  return { type, value: compileRust(type.schema).decode(body, { copy: true }), bytes: body.length };
}
