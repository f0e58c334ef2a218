// Fuzz the Swift-wire decoders: random and mutated frames through decode(), the incremental decoder and
// the payload decoder. Any throw that is not a TmeshError, or an input slower than 1 s, fails the run.
// Run from the repo root: npx tsx packages/codec-swift/fuzz/fuzz.ts [count=200000] [seed=1]
import { isTmeshError, type Schema, sampleMessages } from '@tmesh/core';
import { compileSwift } from '../src/index.js';
import { fuzzInput, fuzzSetup, prng } from '../src/test-support/fuzz-inputs.js';

const count = Number(process.argv[2] ?? 200_000);
const seed = Number(process.argv[3] ?? 1);
const { codec, seeds } = fuzzSetup();
const payloadCodecs = [sampleMessages.AllTypes, sampleMessages.FileChunk, sampleMessages.Metrics].map((m) =>
  compileSwift(m.schema as Schema<unknown>),
);
const rand = prng(seed);
const counts: Record<string, Record<string, number>> = { frame: {}, stream: {}, payload: {} };
let slowest = 0;
let slowestInput = new Uint8Array(0);
let slowestKind = '';
let slowestRun: () => unknown = () => undefined;

function attempt(kind: string, input: Uint8Array, fn: () => unknown): void {
  const start = performance.now();
  let code = 'ok';
  try {
    fn();
  } catch (error) {
    if (!isTmeshError(error)) {
      console.error(`${kind}: input ${Buffer.from(input).toString('hex')} threw a non-TmeshError:`, error);
      process.exit(1);
    }
    code = error.code;
  }
  const took = performance.now() - start;
  if (took > slowest) {
    slowest = took;
    slowestInput = input.slice();
    slowestKind = kind;
    slowestRun = fn;
  }
  if (took > 1000) {
    console.error(`${kind}: input ${Buffer.from(input).toString('hex')} took ${took.toFixed(0)} ms`);
    process.exit(1);
  }
  const table = counts[kind]!;
  table[code] = (table[code] ?? 0) + 1;
}

const started = performance.now();
for (let i = 0; i < count; i++) {
  const input = fuzzInput(rand, seeds);
  attempt('frame', input, () => codec.decode(input));
  if (i % 4 === 0) {
    const decoder = codec.createDecoder({ maxFrameSize: 1 << 16 });
    const cut = Math.floor(rand() * (input.length + 1));
    attempt('stream', input, () => {
      decoder.push(seeds[0]!);
      decoder.push(input.subarray(0, cut));
      decoder.push(input.subarray(cut));
      decoder.end();
    });
  }
  if (input.length > 28) {
    const payload = input.subarray(28);
    attempt('payload', payload, () => payloadCodecs[i % payloadCodecs.length]!.decode(payload));
  }
}
const seconds = (performance.now() - started) / 1000;
const total = Object.values(counts).reduce((n, t) => n + Object.values(t).reduce((a, b) => a + b, 0), 0);
console.log(
  `fuzzed ${count} generated frames (${total} decoder calls) in ${seconds.toFixed(1)} s, seed ${seed}`,
);
// Time the slowest input again on its own: a GC pause or a busy machine shows up as a one-off.
const again = performance.now();
try {
  slowestRun();
} catch {}
console.log(
  `no exception other than TmeshError; slowest input ${slowest.toFixed(2)} ms (${slowestKind}, ${slowestInput.length} bytes; ${(performance.now() - again).toFixed(3)} ms when decoded again)`,
);
for (const [kind, table] of Object.entries(counts)) {
  const rows = Object.entries(table).sort((a, b) => b[1] - a[1]);
  console.log(`${kind}: ${rows.map(([code, n]) => `${code} ${n}`).join(', ')}`);
}
