// Cost of one selectTransport call (it runs per send unless the manager caches per peer), beside a
// baseline of looking a cached selection up per peer, in the same rounds.
// Run: npx tsx packages/selector/bench/select.bench.ts [iterations]

import type { Endpoint, NodeInfo } from '@tmesh/core';
import { defaultWiresFor } from '@tmesh/core';
import type { SelectionInput } from '../src/index.js';
import { selectTransport } from '../src/index.js';

const N = Number(process.argv[2] ?? 500_000);
const ROUNDS = 7;
const endpoints: Endpoint[] = [
  { kind: 'shm', name: 'tmesh-b' },
  { kind: 'unix', path: '/run/tmesh/b.sock' },
  { kind: 'tcp', host: '10.0.0.2', port: 7400 },
  { kind: 'grpc', host: '10.0.0.2', port: 7401 },
];
const node = (id: string, language: string, machineId: string): NodeInfo => ({
  id,
  machineId,
  language,
  endpoints,
  wires: defaultWiresFor(language),
  protocolVersions: [1],
});
const inputs: Record<string, SelectionInput> = {
  'same machine -> shm': {
    source: node('a', 'rust', 'm1'),
    destination: node('b', 'swift', 'm1'),
    messageSize: 4096,
    shmAvailable: true,
  },
  'typescript <-> typescript, measured, compressed': {
    source: node('a', 'typescript', 'm1'),
    destination: node('b', 'typescript', 'm2'),
    messageSize: 1 << 20,
    shmAvailable: true,
    link: {
      bandwidthBytesPerSec: 1.25e6,
      rttMs: 2,
      wireThroughput: { rust: 1.2e6, swift: 1.1e6, universal: 0.9e6 },
    },
  },
};

// What a manager that caches one selection per peer would pay instead.
const peers = ['b', 'c', 'd', 'e'];
const cache = new Map(peers.map((p) => [p, selectTransport(inputs['same machine -> shm']!)]));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
let keep = 0;
const cases: [string, () => number][] = [
  [
    'baseline: cached selection, Map lookup per peer',
    () => {
      let n = 0;
      for (let i = 0; i < N; i++) n += cache.get(peers[i & 3]!)!.fallbacks.length;
      return n;
    },
  ],
  ...Object.entries(inputs).map(([name, input]): [string, () => number] => [
    `selectTransport: ${name}`,
    () => {
      let n = 0;
      for (let i = 0; i < N; i++) n += selectTransport(input).fallbacks.length;
      return n;
    },
  ]),
];
const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of cases) {
    const start = process.hrtime.bigint();
    keep += run();
    results.get(name)!.push(Number(process.hrtime.bigint() - start) / N);
  }
}
console.log(`node ${process.version}, ${N} calls x ${ROUNDS} rounds (median ns per call)`);
for (const [name] of cases)
  console.log(`${name.padEnd(62)} ${median(results.get(name)!).toFixed(0).padStart(7)} ns`);
if (keep === -1) console.log(keep);
