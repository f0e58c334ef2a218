import { describe, expect, it } from 'vitest';
import { isTmeshError } from './errors.js';
import { FrameAssembly, REUSE_MIN } from './frame-assembly.js';

describe('FrameAssembly', () => {
  it('assembles a body from copies and from reads into its leased rest', () => {
    const a = new FrameAssembly();
    expect(a.active).toBe(false);
    a.begin(10);
    expect(a.append(Uint8Array.of(1, 2, 3, 99), 0, 3)).toBe(3);
    expect(a.finish()).toBeUndefined();
    const rest = a.target(4)!;
    expect(rest.length).toBe(7);
    rest.set([4, 5, 6, 7]);
    expect(a.landed(rest, 4)).toBe(true);
    expect(a.fill).toBe(7);
    expect(a.append(Uint8Array.of(0, 8, 9, 10, 11), 1, 5)).toBe(3); // takes only what is missing
    expect([...a.finish()!]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(a.active).toBe(false);
  });

  it('no lease when fewer than min bytes are missing, or no body', () => {
    const a = new FrameAssembly();
    expect(a.target(1)).toBeUndefined();
    a.begin(100);
    a.append(new Uint8Array(90), 0, 90);
    expect(a.target(11)).toBeUndefined();
    expect(a.target(10)?.length).toBe(10);
  });

  it('a chunk taken meanwhile moves the body: a late read lands in the old buffer only', () => {
    const a = new FrameAssembly();
    a.begin(8);
    a.append(Uint8Array.of(1, 2), 0, 2);
    const lease = a.target(1)!;
    a.unlease();
    lease.fill(0xee); // the late read
    expect(a.landed(lease, 6)).toBe(false); // not the lease any more: the caller reads it as a chunk
    a.append(Uint8Array.of(3, 4, 5, 6, 7, 8), 0, 6);
    expect([...a.finish()!]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('a read that does not fit its lease is E_INTERNAL', () => {
    const a = new FrameAssembly();
    a.begin(4);
    for (const n of [0, 5, 1.5, -1]) {
      const lease = a.target(1)!;
      let code = '';
      try {
        a.landed(lease, n);
      } catch (e) {
        code = isTmeshError(e) ? e.code : 'not a TmeshError';
      }
      expect(code).toBe('E_INTERNAL');
    }
  });

  it('a zero-length body is complete at once; clear drops a body', () => {
    const a = new FrameAssembly();
    a.begin(0);
    expect(a.finish()?.length).toBe(0);
    a.begin(5);
    a.clear();
    expect(a.active).toBe(false);
    expect(a.fill).toBe(0);
  });

  describe('release', () => {
    /** Assemble a body of `size` bytes whose every byte is `v`, through a read into its lease. */
    const body = (a: FrameAssembly, size: number, v: number): Uint8Array => {
      a.begin(size);
      const rest = a.target(1)!;
      rest.fill(v);
      a.landed(rest, size);
      return a.finish()!;
    };

    it('with reuse, the next big body that fits is assembled in the released buffer', () => {
      const a = new FrameAssembly();
      const first = body(a, REUSE_MIN * 2, 1);
      a.release(true);
      const second = body(a, REUSE_MIN * 2, 2);
      expect(second.buffer).toBe(first.buffer);
      expect(second.every((b) => b === 2)).toBe(true);
      a.release(true);
      const smaller = body(a, REUSE_MIN + 3, 3); // fits: a view of the same buffer, of its own length
      expect(smaller.buffer).toBe(first.buffer);
      expect(smaller.length).toBe(REUSE_MIN + 3);
    });

    it('without reuse, or without release, every body is a new buffer', () => {
      const a = new FrameAssembly();
      const first = body(a, REUSE_MIN, 1);
      a.release(false);
      const second = body(a, REUSE_MIN, 2);
      expect(second.buffer).not.toBe(first.buffer);
      const third = body(a, REUSE_MIN, 3); // second never released
      expect(third.buffer).not.toBe(second.buffer);
      expect(first.every((b) => b === 1) && second.every((b) => b === 2)).toBe(true);
      // release(false) forgets the body for good: a later release(true) cannot hand it out.
      a.release(false);
      a.release(true);
      expect(body(a, REUSE_MIN, 4).buffer).not.toBe(third.buffer);
      expect(third.every((b) => b === 3)).toBe(true);
    });

    it('small bodies are new buffers and leave the spare for big ones; a bigger body drops it', () => {
      const a = new FrameAssembly();
      const big = body(a, REUSE_MIN * 4, 1);
      a.release(true);
      const small = body(a, REUSE_MIN - 1, 2);
      expect(small.buffer).not.toBe(big.buffer);
      expect(body(a, REUSE_MIN * 2, 3).buffer).toBe(big.buffer);
      a.release(true);
      const bigger = body(a, REUSE_MIN * 4 + 1, 4);
      expect(bigger.buffer).not.toBe(big.buffer);
      a.release(false);
      expect(body(a, REUSE_MIN, 5).buffer).not.toBe(big.buffer); // the too-small spare was dropped
    });

    it('a body moved off its lease is released as the moved copy; clear forgets everything', () => {
      const a = new FrameAssembly();
      a.begin(REUSE_MIN);
      const lease = a.target(1)!;
      a.unlease();
      a.append(new Uint8Array(REUSE_MIN).fill(7), 0, REUSE_MIN);
      const moved = a.finish()!;
      expect(moved.buffer).not.toBe(lease.buffer);
      a.release(true);
      expect(body(a, REUSE_MIN, 8).buffer).toBe(moved.buffer); // never the old buffer a late read may hit
      a.release(true);
      a.clear();
      expect(body(a, REUSE_MIN, 9).buffer).not.toBe(moved.buffer);
    });
  });
});
