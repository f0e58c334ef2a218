import { describe, expect, it } from 'vitest';
import { isTmeshError } from './errors.js';
import { FrameAssembly } from './frame-assembly.js';

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
});
