// The encodeFrameInto (a sender's batch buffer) suite every fixed-header wire runs: the frame it writes into
// the caller's buffer is byte for byte what encode() returns (which each wire's interop tests check against
// a real third-party peer), at any offset; a frame that does not fit is reported with what it needs, not
// moved elsewhere, and leaves the codec ready for the next encode. Test support: imported only by tests.
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  defineMessage,
  type FixedFrameLayout,
  MessageRegistry,
  type MessageType,
  sampleMessages,
  t,
  type WireCodec,
  type WireEncodeOptions,
} from '../packages/core/src/index.js';
import { codeOf } from './errors.js';

const Words = defineMessage('into.Words', 41, t.struct('Words', { words: t.list(t.string()), n: t.u32() }));
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
const untouched = (b: Uint8Array) => b.every((x) => x === 0xee);
const chunk = (path: string, data: Uint8Array) => ({ path, offset: 1n, sequence: 2, last: true, data });

export interface EncodeIntoCase {
  name: string;
  type: MessageType<any>;
  value: unknown;
  opts: WireEncodeOptions;
}

export interface EncodeIntoSuite {
  name: string;
  frame: FixedFrameLayout;
  createCodec: (registry: MessageRegistry) => WireCodec;
  /** The wire's vector cases (every schema type, sizes up to a big bytes field). */
  cases: () => EncodeIntoCase[];
  /** Bytes a FileChunk with path "p" needs besides its data (header included): the least `-need` may say. */
  fileChunkOverhead: number;
  /**
   * What an encode from a getter of the value being encoded does: 'allowed' (it gets a writer of its own)
   * or 'refused' (E_ENCODE_INVALID_VALUE, and the caller's buffer is left alone).
   */
  getterEncode: 'allowed' | 'refused';
}

/** Register the encodeFrameInto tests for one wire. */
export function describeEncodeFrameInto(s: EncodeIntoSuite): void {
  const registry = new MessageRegistry([
    sampleMessages.AllTypes,
    sampleMessages.FileChunk,
    sampleMessages.Metrics,
    Words,
  ]);
  const codec = s.createCodec(registry);
  const into = codec.encodeFrameInto!.bind(codec);
  const hs = s.frame.headerSize;

  describe(`${s.name} encodeFrameInto`, () => {
    const cases = s.cases();

    it.each(cases.map((c) => [c.name, c] as const))(
      '%s: encode() bytes at any offset, nothing else written',
      (_n, c) => {
        const frame = codec.encode(c.type, c.value, c.opts);
        for (const at of [0, 5, 1000]) {
          // Room for the worst-case UTF-8 size of every string (the encoder reserves it before writing one).
          const buf = new Uint8Array(at + frame.length * 3 + 64).fill(0xee);
          const end = into(c.type, c.value, c.opts, buf, at);
          expect(end).toBe(at + frame.length);
          expect(same(buf.subarray(at, end), frame)).toBe(true);
          expect(untouched(buf.subarray(0, at))).toBe(true);
          expect(untouched(buf.subarray(end))).toBe(true);
        }
      },
    );

    it.each(cases.map((c) => [c.name, c] as const))(
      '%s: too short -> -need, then the next encodes are right and leave that buffer alone',
      (_n, c) => {
        const frame = codec.encode(c.type, c.value, c.opts);
        for (const room of [0, hs - 1, hs, frame.length - 1]) {
          const at = 3;
          const buf = new Uint8Array(at + room).fill(0xee);
          const r = into(c.type, c.value, c.opts, buf, at);
          expect(r).toBeLessThan(0);
          expect(-r).toBeGreaterThan(room);
          expect(untouched(buf.subarray(0, at))).toBe(true);
        }
        const buf = new Uint8Array(frame.length * 3 + 64).fill(0xee);
        expect(into(c.type, c.value, c.opts, buf, 0)).toBe(frame.length);
        expect(same(buf.subarray(0, frame.length), frame)).toBe(true);
        const copy = buf.slice();
        expect(same(codec.encode(c.type, c.value, c.opts), frame)).toBe(true);
        expect(same(buf, copy)).toBe(true);
      },
    );

    it('reports a big bytes field that does not fit before copying it: need covers it', () => {
      const data = new Uint8Array(200_000).fill(3);
      const r = into(sampleMessages.FileChunk, chunk('p', data), {}, new Uint8Array(65536), 100);
      expect(r).toBeLessThan(0);
      expect(-r).toBeGreaterThanOrEqual(s.fileChunkOverhead + data.length);
    });

    it('stops partway through a list of strings that outgrows the buffer', () => {
      const value = { words: Array.from({ length: 5000 }, (_, i) => `word-${i}`), n: 7 };
      const opts = { timestamp: 1_700_000_000_000 };
      const frame = codec.encode(Words, value, opts);
      const r = into(Words, value, opts, new Uint8Array(4096), 0);
      expect(r).toBeLessThan(0);
      expect(-r).toBeGreaterThan(4096);
      const big = new Uint8Array(frame.length * 3);
      expect(into(Words, value, opts, big, 1)).toBe(frame.length + 1);
      expect(same(big.subarray(1, frame.length + 1), frame)).toBe(true);
      expect(codec.decode(frame).value).toEqual(value);
    });

    it('refuses what encode() refuses, with the same codes, and recovers', () => {
      const good = chunk('a', new Uint8Array(4));
      const buf = new Uint8Array(256);
      const call =
        (type: any, value: unknown, opts = {}, b: any = buf, at = 0) =>
        () =>
          into(type, value, opts, b, at);
      const bad = { ...good, sequence: -1 };
      const badCode = codeOf(() => codec.encode(sampleMessages.FileChunk, bad));
      expect(badCode).toMatch(/^E_/);
      expect(codeOf(call(sampleMessages.FileChunk, bad))).toBe(badCode);
      expect(codeOf(call(sampleMessages.FileChunk, { ...good, data: 'x' }))).toBe('E_ENCODE_INVALID_VALUE');
      expect(codeOf(call(sampleMessages.FileChunk, good, { flags: 1 }))).toBe('E_INVALID_ARGUMENT');
      const stranger = defineMessage('into.Stranger', 9, t.struct('S', { a: t.u8() }));
      expect(codeOf(call(stranger, { a: 1 }))).toBe('E_UNKNOWN_MESSAGE_TYPE');
      for (const at of [-1, 257, 1.5]) {
        expect(codeOf(call(sampleMessages.FileChunk, good, {}, buf, at))).toBe('E_INVALID_ARGUMENT');
      }
      expect(codeOf(call(sampleMessages.FileChunk, good, {}, [1, 2, 3], 0))).toBe('E_INVALID_ARGUMENT');
      const end = into(sampleMessages.FileChunk, good, {}, buf, 10);
      expect(codec.decode(buf.subarray(10, end)).value).toEqual(good);
    });

    it('writes right into buffers used in turn (each link of a process has its own send block)', () => {
      const blocks = Array.from({ length: 6 }, () => Buffer.alloc(4096, 0xee));
      const at = new Array(blocks.length).fill(0);
      const sent: { block: number; start: number; end: number; value: unknown }[] = [];
      for (let i = 0; i < 60; i++) {
        const b = (i * 5) % blocks.length; // every block in turn, more than the codec caches
        const value = chunk(`p${i}`, new Uint8Array(i % 17).fill(i));
        const end = into(
          sampleMessages.FileChunk,
          value,
          { sequence: i, timestamp: 1_700_000_000_000 },
          blocks[b]!,
          at[b],
        );
        expect(end).toBeGreaterThan(at[b]);
        sent.push({ block: b, start: at[b], end, value });
        at[b] = end;
      }
      for (const [i, f] of sent.entries()) {
        const frame = codec.encode(sampleMessages.FileChunk, f.value, {
          sequence: i,
          timestamp: 1_700_000_000_000,
        });
        expect(same(blocks[f.block]!.subarray(f.start, f.end), frame)).toBe(true);
      }
    });

    it('does not keep a big caller buffer alive once the encode returned', async () => {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      let big: Uint8Array | undefined = new Uint8Array(4 << 20);
      const end = into(sampleMessages.FileChunk, chunk('p', new Uint8Array(10)), {}, big, 100);
      expect(end).toBeGreaterThan(100);
      const ref = new WeakRef(big);
      big = undefined;
      for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
        await new Promise((r) => setImmediate(r));
        gc();
      }
      expect(ref.deref()).toBeUndefined();
    });

    it(`an encode from a getter of the value is ${s.getterEncode}`, () => {
      const inner = chunk('in', new Uint8Array(3));
      let nested: Uint8Array | undefined;
      const value = {
        offset: 5n,
        sequence: 6,
        last: true,
        data: new Uint8Array(2),
        get path() {
          nested = codec.encode(sampleMessages.FileChunk, inner, {});
          return 'outer';
        },
      };
      const buf = new Uint8Array(512).fill(0xee);
      if (s.getterEncode === 'allowed') {
        const end = into(sampleMessages.FileChunk, value, {}, buf, 0);
        expect((codec.decode(buf.subarray(0, end)).value as { path: string }).path).toBe('outer');
        expect(codec.decode(nested!).value).toEqual(inner);
        return;
      }
      expect(codeOf(() => into(sampleMessages.FileChunk, value, {}, buf, 0))).toBe('E_ENCODE_INVALID_VALUE');
      const copy = buf.slice();
      const plain = chunk('p', new Uint8Array(9));
      expect(codec.decode(codec.encode(sampleMessages.FileChunk, plain)).value).toEqual(plain);
      expect(same(buf, copy)).toBe(true);
    });
  });
}
