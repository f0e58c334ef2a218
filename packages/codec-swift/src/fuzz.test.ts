import { isTmeshError } from '@tmesh/core';
import { describe, expect, it } from 'vitest';
import { fuzzInput, fuzzSetup, prng } from './test-support/fuzz-inputs.js';

const RUNS = 4000;

describe('fuzz: random and mutated frames only ever raise TmeshErrors', () => {
  const { codec, seeds } = fuzzSetup();

  it(`${RUNS} frames through decode()`, () => {
    const rand = prng(0x5eed);
    const counts = new Map<string, number>();
    for (let i = 0; i < RUNS; i++) {
      const input = fuzzInput(rand, seeds);
      let code = 'ok';
      try {
        codec.decode(input);
      } catch (error) {
        if (!isTmeshError(error))
          throw new Error(`input ${i} (${Buffer.from(input).toString('hex')}) threw ${String(error)}`);
        code = error.code;
      }
      counts.set(code, (counts.get(code) ?? 0) + 1);
    }
    // The mutations reach the payload decoder, not only the frame checks.
    for (const code of [
      'ok',
      'E_CHECKSUM',
      'E_FRAME_TRUNCATED',
      'E_DECODE',
      'E_MISSING_FIELD',
      'E_BAD_MAGIC',
    ]) {
      expect(counts.get(code), `${code} in ${JSON.stringify([...counts])}`).toBeGreaterThan(0);
    }
  });

  it(`${RUNS / 4} streams of mutated frames through the incremental decoder, cut at random points`, () => {
    const rand = prng(0xc0ffee);
    for (let i = 0; i < RUNS / 4; i++) {
      const stream = [seeds[0]!, fuzzInput(rand, seeds), seeds[1]!];
      const bytes = Uint8Array.from(stream.flatMap((f) => [...f]));
      const decoder = codec.createDecoder({ maxFrameSize: 4096 });
      try {
        let at = 0;
        while (at < bytes.length) {
          const next = Math.min(bytes.length, at + 1 + Math.floor(rand() * 200));
          decoder.push(bytes.subarray(at, next));
          at = next;
        }
        decoder.end();
      } catch (error) {
        if (!isTmeshError(error)) throw new Error(`stream ${i} threw ${String(error)}`);
      }
    }
  });
});
