// Bytes as hex and back, for known-answer tests.

/** Lower-case hex of `bytes` (read in place, not copied). */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Bytes from hex, white space allowed. */
export function unhex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}
