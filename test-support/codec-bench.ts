// The measuring loop the codec benchmarks (packages/codec-*/bench/codec.bench.ts) share: timed rounds of
// doubling batches, taken in turn across the candidates so load from other processes on a shared machine
// hits every candidate alike, and medians over the rounds. Also the FileChunk values they encode.

/** The value of sampleMessages.FileChunk. */
export interface FileChunkValue {
  path: string;
  offset: bigint;
  sequence: number;
  last: boolean;
  data: Uint8Array;
}

/** A FileChunk with `dataSize` bytes of a fixed pattern at `path`. */
export function fileChunk(dataSize: number, path: string): FileChunkValue {
  const data = new Uint8Array(dataSize);
  for (let i = 0; i < dataSize; i++) data[i] = (i * 31 + 7) & 0xff;
  return { path, offset: 1_048_576n, sequence: 42, last: false, data };
}

/** Keeps every result alive, so no call is optimised away. */
let sink: unknown;

/** Ops/s of `fn` over one timed round of about `ms` (batches double up to 4096 calls). */
export function timedRound(fn: () => unknown, ms: number): number {
  let ops = 0;
  let batch = 1;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) sink = fn();
    ops += batch;
    if (batch < 4096) batch *= 2;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

/**
 * Warm each function up with one round, then take `rounds` rounds of `roundMs` of each in turn (A, B, C,
 * A, B, C, ...). Returns the ops/s of every round, per function.
 */
export function interleavedRates(
  fns: readonly (() => unknown)[],
  rounds: number,
  roundMs: number,
): number[][] {
  for (const fn of fns) timedRound(fn, roundMs);
  const rates = fns.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, fn] of fns.entries()) rates[i]!.push(timedRound(fn, roundMs));
  }
  if (sink === interleavedRates) console.log('(sink)');
  return rates;
}

/** The median of `xs` (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
}

/** The median of the per-round ratios `rates[r] / base[r]`: each compares two rounds taken back to back. */
export function medianRatio(rates: readonly number[], base: readonly number[]): number {
  return median(rates.map((rate, r) => rate / base[r]!));
}
