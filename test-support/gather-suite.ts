// The encodeParts (gather write) suite every fixed-header wire runs: the parts, concatenated, are byte for
// byte what encode() writes (which each wire's interop tests check against a real third-party peer), and big
// bytes fields are the caller's arrays, not copies. Test support: imported only by test files.
import { describe, expect, it } from 'vitest';
import {
  crc32,
  defineMessage,
  type FixedFrameLayout,
  GATHER_MIN_BYTES,
  isTmeshError,
  MessageRegistry,
  resealFrameParts,
  sampleMessages,
  t,
  type WireCodec,
} from '../packages/core/src/index.js';

const Multi = defineMessage(
  'gather.Multi',
  40,
  t.struct('Multi', {
    name: t.string(),
    first: t.bytes(),
    list: t.list(t.bytes()),
    maybe: t.optional(t.bytes()),
    tail: t.u32(),
  }),
);
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
/** Byte equality without vitest's slow deep compare of MiB-sized arrays. */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
const filled = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
const opts = { sequence: 7, flags: 0x10, timestamp: 1_700_000_000_000 };

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The wire under test: its name, its frame layout and its codec factory. */
export interface GatherWire {
  name: string;
  frame: FixedFrameLayout;
  createCodec(registry: MessageRegistry): WireCodec;
}

/** Registers the encodeParts suite for `wire`. */
export function describeEncodeParts(wire: GatherWire): void {
  const codec = wire.createCodec(new MessageRegistry([sampleMessages.FileChunk, Multi]));
  describe(`${wire.name} encodeParts`, () => {
    it('writes a small message as one part equal to encode()', () => {
      const value = { path: 'a', offset: 1n, sequence: 2, last: true, data: filled(100, 1) };
      const parts = codec.encodeParts!(sampleMessages.FileChunk, value, opts);
      expect(parts).toHaveLength(1);
      expect(same(concat(parts), codec.encode(sampleMessages.FileChunk, value, opts))).toBe(true);
    });

    it('keeps a 1 MiB bytes field out of the encoder: the caller array is a part', () => {
      const data = filled(1 << 20, 3);
      const value = { path: 'big.bin', offset: 0n, sequence: 9, last: false, data };
      const parts = codec.encodeParts!(sampleMessages.FileChunk, value, opts);
      expect(parts.some((p) => p === data)).toBe(true);
      expect(parts[0]!.length).toBeLessThan(200);
      const whole = concat(parts);
      expect(same(whole, codec.encode(sampleMessages.FileChunk, value, opts))).toBe(true);
      const decoded = codec.decode(whole);
      expect(decoded.header.checksum).toBe(crc32(whole.subarray(wire.frame.headerSize)));
      expect(same((decoded.value as typeof value).data, data)).toBe(true);
    });

    it('splits around several big fields, inline bytes between them, at the threshold and below it', () => {
      const at = filled(GATHER_MIN_BYTES, 5);
      const below = filled(GATHER_MIN_BYTES - 1, 6);
      const big = filled(200_000, 7);
      const value = { name: 'm', first: at, list: [big, below, filled(3, 8), big], maybe: at, tail: 77 };
      const parts = codec.encodeParts!(Multi, value, opts);
      expect(parts.filter((p) => p === at || p === big)).toHaveLength(4);
      expect(parts.includes(below)).toBe(false);
      expect(same(concat(parts), codec.encode(Multi, value, opts))).toBe(true);
      expect(codec.decode(concat(parts)).value).toEqual(value);
      const none = { ...value, maybe: undefined, list: [] };
      expect(same(concat(codec.encodeParts!(Multi, none, opts)), codec.encode(Multi, none, opts))).toBe(true);
    });

    it('leaves the encoder clean after a failed gather encode', () => {
      const first = filled(GATHER_MIN_BYTES, 1);
      const bad = { name: 'x', first, list: [filled(GATHER_MIN_BYTES, 2), 5], tail: 1 };
      expect(
        isTmeshError(
          thrownBy(() => codec.encodeParts!(Multi, bad as never, opts)),
          'E_ENCODE_INVALID_VALUE',
        ),
      ).toBe(true);
      // The next encodes (plain and gather) are unaffected by the refs the failed one had recorded.
      const value = { path: 'a', offset: 1n, sequence: 2, last: true, data: filled(GATHER_MIN_BYTES, 9) };
      expect(
        same(
          concat(codec.encodeParts!(sampleMessages.FileChunk, value, opts)),
          codec.encode(sampleMessages.FileChunk, value, opts),
        ),
      ).toBe(true);
      const small = { ...value, data: filled(10, 1) };
      expect(codec.encodeParts!(sampleMessages.FileChunk, small, opts)).toHaveLength(1);
    });

    it('reseal recomputes the checksum after the owner modified a referenced array', () => {
      const data = filled(GATHER_MIN_BYTES * 2, 4);
      const value = { path: 'p', offset: 0n, sequence: 1, last: true, data };
      const parts = codec.encodeParts!(sampleMessages.FileChunk, value, opts);
      expect(resealFrameParts(wire.frame, parts)).toBe(false);
      data[1000] = data[1000]! ^ 0xff;
      expect(
        isTmeshError(
          thrownBy(() => codec.decode(concat(parts))),
          'E_CHECKSUM',
        ),
      ).toBe(true);
      expect(resealFrameParts(wire.frame, parts)).toBe(true);
      expect(same((codec.decode(concat(parts)).value as typeof value).data, data)).toBe(true);
    });

    it('rejects what encode() rejects', () => {
      const value = { path: 'a', offset: 1n, sequence: 2, last: true, data: filled(1, 1) };
      const error = thrownBy(() => codec.encodeParts!(sampleMessages.FileChunk, value, { flags: 1 }));
      expect(isTmeshError(error, 'E_INVALID_ARGUMENT')).toBe(true);
    });
  });
}
