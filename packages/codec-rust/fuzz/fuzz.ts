// Fuzzes the Rust wire decoders with random and mutated frames (half of them with size and CRC fixed
// up, so the bincode decoder sees the damage) and counts the outcome per error code. Any exception that
// is not a TmeshError, or an input taking over a second, stops the run with exit code 1.
// Run from the repo root: npx tsx packages/codec-rust/fuzz/fuzz.ts [inputs=200000] [seed=1]
import { isTmeshError, MessageRegistry, sampleMessages } from '@tmesh/core';
import { createRustCodec } from '../src/index.js';
import { fuzzInput, rng } from '../src/test-support/fuzz-inputs.js';
import { vectorCases } from '../src/vector-cases.js';

const total = Number(process.argv[2] ?? 200_000);
const seed = Number(process.argv[3] ?? 1);
const codec = createRustCodec(
  new MessageRegistry([sampleMessages.FileChunk, sampleMessages.AllTypes, sampleMessages.Metrics]),
);
const seeds = vectorCases()
  .filter((c) => c.name !== 'file_chunk_1mib')
  .map((c) =>
    codec.encode(c.type, c.value, { sequence: c.sequence, timestamp: c.timestamp, flags: c.flags }),
  );
const next = rng(seed);

const decoders: [string, (input: Uint8Array) => unknown][] = [
  ['decode', (input) => codec.decode(input)],
  [
    'stream',
    (input) => {
      // The incremental decoder, fed in two pieces cut at a random point.
      const decoder = codec.createDecoder();
      const cut = Math.floor(next() * (input.length + 1));
      decoder.push(input.subarray(0, cut));
      decoder.push(input.subarray(cut));
      decoder.end();
    },
  ],
];
const counts = new Map<string, Map<string, number>>(decoders.map(([name]) => [name, new Map()]));
const started = performance.now();
let slowest = 0;
let slowestInput: { input: Uint8Array; run: (input: Uint8Array) => unknown } | undefined;
for (let i = 0; i < total; i++) {
  const input = fuzzInput(seeds, next);
  for (const [name, run] of decoders) {
    const t0 = performance.now();
    let outcome = 'ok';
    try {
      run(input);
    } catch (error) {
      if (!isTmeshError(error)) {
        console.error(
          `input #${i} (${Buffer.from(input).toString('hex')}) made ${name} throw a non-TmeshError:`,
          error,
        );
        process.exit(1);
      }
      outcome = error.code;
    }
    const took = performance.now() - t0;
    if (took > slowest) {
      slowest = took;
      slowestInput = { input, run };
    }
    if (took > 1000) {
      console.error(`input #${i} took ${took.toFixed(0)} ms in ${name}`);
      process.exit(1);
    }
    const byCode = counts.get(name)!;
    byCode.set(outcome, (byCode.get(outcome) ?? 0) + 1);
  }
}
const seconds = (performance.now() - started) / 1000;
// Time the slowest input again: a one-off (GC, JIT, a busy machine) or the input itself?
let again = Number.POSITIVE_INFINITY;
for (let k = 0; k < 5 && slowestInput; k++) {
  const t0 = performance.now();
  try {
    slowestInput.run(slowestInput.input);
  } catch {}
  again = Math.min(again, performance.now() - t0);
}
console.log(
  `${total} inputs x ${decoders.length} decoders (seed ${seed}) in ${seconds.toFixed(1)} s; only TmeshErrors thrown; ` +
    `slowest input ${slowest.toFixed(2)} ms (${again.toFixed(3)} ms when run again)`,
);
for (const [name, byCode] of counts) {
  console.log(
    `${name}: ${[...byCode]
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${n}`)
      .join(', ')}`,
  );
}
