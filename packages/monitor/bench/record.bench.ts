// Cost of recording one transmission on the hot path, amortised over batches, beside baselines run in
// the same process: an empty loop and a plain counter increment.
// Run: npx tsx packages/monitor/bench/record.bench.ts [iterations]
import * as hdr from 'hdr-histogram-js';
import { histogramImplementation, TransportMonitor } from '../src/index.js';

const N = Number(process.argv[2] ?? 5_000_000);
const ROUNDS = 7;
const MASK = 1023;

// Varying inputs so nothing folds into a constant: sizes 64 B..64 KiB, durations 1 µs..10 ms.
const sizes = new Float64Array(MASK + 1);
const durations = new Float64Array(MASK + 1);
let seed = 12345;
const random = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32;
};
for (let i = 0; i <= MASK; i++) {
  sizes[i] = Math.floor(64 + random() * 65_472);
  durations[i] = Math.floor(1_000 + random() * 9_999_000);
}

interface Case {
  name: string;
  run: (n: number) => number;
}

const monitor = new TransportMonitor({ flushIntervalMs: 0 });
const recorder = monitor.recorder('node-b', { kind: 'rust', compression: 'none' });
const mixed = [
  monitor.recorder('node-b', 'swift'),
  monitor.recorder('node-c', 'universal'),
  monitor.recorder('node-d', { kind: 'shm', idle: 'adaptive' }),
  monitor.recorder('node-e', 'grpc'),
];
const counters = { messages: 0, bytes: 0, duration: 0 };
const jsHistogram = hdr.build({ useWebAssembly: false });
hdr.initWebAssemblySync();
const wasmHistogram = hdr.build({ useWebAssembly: true });

const cases: Case[] = [
  {
    name: 'empty loop',
    run: (n) => {
      let sink = 0;
      for (let i = 0; i < n; i++) sink ^= i;
      return sink;
    },
  },
  {
    name: 'counter increment (baseline)',
    run: (n) => {
      for (let i = 0; i < n; i++) {
        counters.messages++;
        counters.bytes += sizes[i & MASK]!;
        counters.duration += durations[i & MASK]!;
      }
      return counters.messages;
    },
  },
  {
    name: 'recorder.record (batched)',
    run: (n) => {
      for (let i = 0; i < n; i++) recorder.record(sizes[i & MASK]!, durations[i & MASK]!);
      recorder.flush();
      return recorder.messages;
    },
  },
  {
    name: 'recorder.record, 4 peers interleaved',
    run: (n) => {
      for (let i = 0; i < n; i++)
        mixed[i & 3]!.record(sizes[i & MASK]!, durations[i & MASK]!, i % 97 === 0 ? 'error' : 'ok');
      monitor.flush();
      return mixed[0]!.messages;
    },
  },
  {
    name: 'monitor.record (lookup per call)',
    run: (n) => {
      for (let i = 0; i < n; i++) monitor.record('node-b', 'rust', sizes[i & MASK]!, durations[i & MASK]!);
      monitor.flush();
      return recorder.messages;
    },
  },
  {
    name: 'hdr recordValue, wasm (context)',
    run: (n) => {
      for (let i = 0; i < n; i++) wasmHistogram.recordValue(durations[i & MASK]!);
      return wasmHistogram.totalCount;
    },
  },
  {
    name: 'hdr recordValue, js (context)',
    run: (n) => {
      for (let i = 0; i < n; i++) jsHistogram.recordValue(durations[i & MASK]!);
      return jsHistogram.totalCount;
    },
  },
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
let keep = 0;
for (const c of cases) keep += c.run(Math.min(N, 200_000)); // warm-up
// Rounds interleave the cases, so machine noise hits baselines and recorder alike.
for (let round = 0; round < ROUNDS; round++) {
  for (const c of cases) {
    const start = process.hrtime.bigint();
    keep += c.run(N);
    results.get(c.name)!.push(Number(process.hrtime.bigint() - start) / N);
  }
}

const baseline = median(results.get('counter increment (baseline)')!);
console.log(
  `node ${process.version}, ${N} iterations x ${ROUNDS} rounds, histograms: ${histogramImplementation()} (median ns per message)`,
);
console.log('case                                    ns/msg   min ns   x counter');
for (const c of cases) {
  const values = results.get(c.name)!;
  const med = median(values);
  console.log(
    `${c.name.padEnd(38)} ${med.toFixed(2).padStart(7)} ${Math.min(...values)
      .toFixed(2)
      .padStart(8)} ${(med / baseline).toFixed(1).padStart(10)}`,
  );
}
const recordCost = median(results.get('recorder.record (batched)')!);
console.log(
  `\nrecorder.record amortised: ${recordCost.toFixed(1)} ns/msg (budget 100 ns) ${recordCost < 100 ? 'OK' : 'OVER BUDGET'}`,
);
monitor.close();
wasmHistogram.destroy();
if (keep === -1) console.log(keep);
