import { describe, expect, it } from 'vitest';
import { fuzzUniversal } from './testing/fuzz.js';

describe('fuzz: random and mutated frames and payloads', () => {
  it('throws nothing but TmeshErrors, and finishes', () => {
    const report = fuzzUniversal(5000, 0x5eed);
    expect(report.foreign).toEqual([]);
    expect(report.byCode.E_INTERNAL).toBeUndefined();
    expect(report.inputs).toBe(5000);
    // The run reaches deep checks, not only the first guard.
    for (const code of ['E_CHECKSUM', 'E_FRAME_TRUNCATED', 'E_DECODE', 'ok'])
      expect(report.byCode[code] ?? 0).toBeGreaterThan(0);
    expect(report.millis).toBeLessThan(30_000);
  });
});
