import { defineMessage, isTmeshError, MessageRegistry, sampleMessages, t } from '@tmesh/core';
import { describe, expect, it } from 'vitest';
import { createSwiftCodec } from './index.js';
import { bigChunkCase, VECTOR_CASES, VECTOR_TIMESTAMP } from './test-support/vectors.js';

// encodeFrameInto (a sender's batch buffer): the frame it writes into the caller's buffer is byte for byte
// what encode() returns (which the interop tests check against Python msgpack), at any offset; a frame that
// does not fit is reported, not moved elsewhere, and the shared writer goes back to its own slab.

const Words = defineMessage('into.Words', 41, t.struct('Words', { words: t.list(t.string()), n: t.u32() }));
const registry = new MessageRegistry([
  sampleMessages.AllTypes,
  sampleMessages.FileChunk,
  sampleMessages.Metrics,
  Words,
]);
const codec = createSwiftCodec(registry);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
const untouched = (b: Uint8Array) => b.every((x) => x === 0xee);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return isTmeshError(error) ? error.code : `not a TmeshError: ${String(error)}`;
  }
  return 'no error';
}

describe('swift encodeFrameInto', () => {
  const cases = [...VECTOR_CASES, bigChunkCase()].map((c, i) => ({
    ...c,
    opts: { sequence: c.sequence, flags: i % 2 ? 0x10 : 0, timestamp: VECTOR_TIMESTAMP },
  }));

  it.each(cases.map((c) => [c.name, c] as const))(
    '%s: encode() bytes at any offset, nothing else written',
    (_n, c) => {
      const frame = codec.encode(c.type, c.value, c.opts);
      for (const at of [0, 5, 1000]) {
        // Room for the worst-case UTF-8 size of every string (the encoder reserves it before writing one).
        const buf = new Uint8Array(at + frame.length * 3 + 64).fill(0xee);
        const end = codec.encodeFrameInto!(c.type, c.value, c.opts, buf, at);
        expect(end).toBe(at + frame.length);
        expect(same(buf.subarray(at, end), frame)).toBe(true);
        expect(untouched(buf.subarray(0, at))).toBe(true);
        expect(untouched(buf.subarray(end))).toBe(true);
      }
    },
  );

  it.each(cases.map((c) => [c.name, c] as const))(
    '%s: too short -> -need, then fits a fresh buffer',
    (_n, c) => {
      const frame = codec.encode(c.type, c.value, c.opts);
      for (const room of [0, 27, 28, frame.length - 1]) {
        const at = 3;
        const buf = new Uint8Array(at + room).fill(0xee);
        const r = codec.encodeFrameInto!(c.type, c.value, c.opts, buf, at);
        expect(r).toBeLessThan(0);
        expect(-r).toBeGreaterThan(room);
        expect(untouched(buf.subarray(0, at))).toBe(true);
      }
      // The shared writer is back on its own slab: the next encodes are right and leave `buf` alone.
      const buf = new Uint8Array(frame.length * 3 + 64).fill(0xee);
      expect(codec.encodeFrameInto!(c.type, c.value, c.opts, buf, 0)).toBe(frame.length);
      const copy = buf.slice();
      expect(same(codec.encode(c.type, c.value, c.opts), frame)).toBe(true);
      expect(same(buf, copy)).toBe(true);
    },
  );

  it('reports a big bin that does not fit before copying it: need covers it', () => {
    const data = new Uint8Array(200_000).fill(3);
    const value = { path: 'p', offset: 0n, sequence: 1, last: true, data };
    const r = codec.encodeFrameInto!(sampleMessages.FileChunk, value, {}, new Uint8Array(65536), 100);
    expect(r).toBeLessThan(0);
    expect(-r).toBeGreaterThanOrEqual(28 + data.length);
  });

  it('stops partway through a list of strings that outgrows the buffer', () => {
    const value = { words: Array.from({ length: 5000 }, (_, i) => `word-${i}`), n: 7 };
    const opts = { timestamp: VECTOR_TIMESTAMP };
    const frame = codec.encode(Words, value, opts);
    const r = codec.encodeFrameInto!(Words, value, opts, new Uint8Array(4096), 0);
    expect(r).toBeLessThan(0);
    expect(-r).toBeGreaterThan(4096);
    const big = new Uint8Array(frame.length * 3);
    expect(codec.encodeFrameInto!(Words, value, opts, big, 1)).toBe(frame.length + 1);
    expect(same(big.subarray(1, frame.length + 1), frame)).toBe(true);
    expect(codec.decode(frame).value).toEqual(value);
  });

  it('refuses what encode() refuses, with the same codes, and recovers', () => {
    const good = { path: 'a', offset: 1n, sequence: 2, last: true, data: new Uint8Array(4) };
    const buf = new Uint8Array(256);
    const into =
      (type: any, value: unknown, opts = {}, b: any = buf, at = 0) =>
      () =>
        codec.encodeFrameInto!(type, value, opts, b, at);
    const bad = { ...good, sequence: -1 };
    expect(codeOf(into(sampleMessages.FileChunk, bad))).toBe(
      codeOf(() => codec.encode(sampleMessages.FileChunk, bad)),
    );
    expect(codeOf(into(sampleMessages.FileChunk, { ...good, data: 'x' }))).toBe('E_ENCODE_INVALID_VALUE');
    expect(codeOf(into(sampleMessages.FileChunk, good, { flags: 1 }))).toBe('E_INVALID_ARGUMENT');
    const stranger = defineMessage('into.Stranger', 9, t.struct('S', { a: t.u8() }));
    expect(codeOf(into(stranger, { a: 1 }))).toBe('E_UNKNOWN_MESSAGE_TYPE');
    expect(codeOf(into(sampleMessages.FileChunk, good, {}, buf, -1))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(into(sampleMessages.FileChunk, good, {}, buf, 257))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(into(sampleMessages.FileChunk, good, {}, buf, 1.5))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(into(sampleMessages.FileChunk, good, {}, [1, 2, 3], 0))).toBe('E_INVALID_ARGUMENT');
    const end = codec.encodeFrameInto!(sampleMessages.FileChunk, good, {}, buf, 10);
    expect(codec.decode(buf.subarray(10, end)).value).toEqual(good);
  });

  it('refuses an encode from a getter of the value, and leaves the writer on its own slab', () => {
    const value = {
      offset: 5n,
      sequence: 6,
      last: true,
      data: new Uint8Array(2),
      get path() {
        codec.encode(sampleMessages.FileChunk, {
          path: 'x',
          offset: 0n,
          sequence: 0,
          last: true,
          data: new Uint8Array(1),
        });
        return 'outer';
      },
    };
    const buf = new Uint8Array(512).fill(0xee);
    expect(codeOf(() => codec.encodeFrameInto!(sampleMessages.FileChunk, value, {}, buf, 0))).toBe(
      'E_ENCODE_INVALID_VALUE',
    );
    const copy = buf.slice();
    const plain = { path: 'p', offset: 1n, sequence: 2, last: false, data: new Uint8Array(9) };
    expect(codec.decode(codec.encode(sampleMessages.FileChunk, plain)).value).toEqual(plain);
    expect(same(buf, copy)).toBe(true);
  });
});
