// zstd, lz4 and deflate side by side, as links apply them (packages/net/src/compression.ts: zstd level 3
// and lz4 from the native addon, deflate level 1 from node:zlib), on the payloads links carry: a
// FileChunk of log text and a Metrics report (each as the Rust wire's bincode payload), and random bytes.
// Rounds are interleaved (every case once per round); medians are printed, with speeds relative to
// deflate. Speeds are per CPU-second of this process, so a loaded machine slows them less than wall time. Every loop is bounded in count and time.
//   npx tsx packages/net/bench/compression.bench.ts            (5 rounds)
//   npx tsx packages/net/bench/compression.bench.ts --quick    (2 rounds, shorter cases)
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { createRustCodec } from '@tmesh/codec-rust';
import { type CompressionAlgorithm, MessageRegistry, sampleMessages } from '@tmesh/core';
import { compress, compressionFlag, decompress, SUPPORTED_COMPRESSION } from '../src/compression.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 5;
const CASE_MS = quick ? 60 : 150;
const MAX_ITERATIONS = 20_000;

const registry = new MessageRegistry([sampleMessages.FileChunk, sampleMessages.Metrics]);
const rust = createRustCodec(registry);

function logText(size: number): Buffer {
  let seed = 12345;
  const next = () => {
    // mulberry32: an LCG's low bits repeat with short periods, which compressors would find.
    seed = (seed + 0x6d2b79f5) >>> 0;
    let z = seed;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  };
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const line = `2026-11-28T04:${String(next() % 60).padStart(2, '0')}:${String(next() % 60).padStart(2, '0')}Z node-${next() % 16} GET /api/v1/files/${next() % 5000}.bin ${[200, 200, 200, 404, 500][next() % 5]} ${next() % 900}ms\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

function payloadOf<T>(
  type: typeof sampleMessages.FileChunk | typeof sampleMessages.Metrics,
  value: T,
): Uint8Array {
  const frame = rust.encode(type as never, value as never);
  return frame.subarray(32); // the bincode payload, as compressed on the wire
}

const counters = new Map<string, bigint>();
for (let i = 0; i < 200; i++)
  counters.set(`tmesh_link_${['bytes', 'msgs', 'errors', 'rtt_us'][i % 4]}_peer_${i}`, BigInt(i * 7919));

const payloads: [string, Uint8Array][] = [
  [
    'FileChunk 64 KiB log text',
    payloadOf(sampleMessages.FileChunk, {
      path: '/var/log/app/node-3.log',
      offset: 0n,
      sequence: 1,
      last: false,
      data: logText(64 * 1024),
    }),
  ],
  [
    'FileChunk 1 MiB log text',
    payloadOf(sampleMessages.FileChunk, {
      path: '/var/log/app/node-3.log',
      offset: 0n,
      sequence: 1,
      last: false,
      data: logText(1024 * 1024),
    }),
  ],
  [
    'Metrics, 200 counters',
    payloadOf(sampleMessages.Metrics, {
      node: 'node-3',
      at: 1_790_000_000_000n,
      throughput: 1234.5,
      latencyMicros: 87.25,
      counters,
    }),
  ],
  ['random 64 KiB', randomBytes(64 * 1024)],
];

const ALGORITHMS: CompressionAlgorithm[] = ['zstd', 'lz4', 'deflate'];
for (const a of ALGORITHMS) {
  if (!SUPPORTED_COMPRESSION.includes(a)) {
    console.error(
      `${a} is not available here (the native addon is not built): ${SUPPORTED_COMPRESSION.join(', ')}`,
    );
    process.exit(1);
  }
}

/**
 * MB per CPU-second of `fn` over `bytes` per call (process CPU time, user + system: the machine is shared,
 * and wall time would count the time this process waited for a core), bounded by CASE_MS of wall time
 * and MAX_ITERATIONS.
 */
function speed(bytes: number, fn: () => unknown): number {
  for (let i = 0; i < 3; i++) fn(); // warm-up
  const cpu0 = process.cpuUsage();
  const deadline = process.hrtime.bigint() + BigInt(CASE_MS) * 1_000_000n;
  let n = 0;
  while (n < MAX_ITERATIONS && (n & 3 || process.hrtime.bigint() < deadline)) {
    fn();
    n++;
  }
  const cpu = process.cpuUsage(cpu0);
  return (bytes * n) / ((cpu.user + cpu.system) / 1e6) / 1e6;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

const results = new Map<string, { ratio: number; c: number[]; d: number[] }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, payload] of payloads) {
    for (const algorithm of ALGORITHMS) {
      const packed = compress(algorithm, payload);
      const flag = compressionFlag(algorithm);
      const check = decompress(flag, packed, payload.length);
      if (!Buffer.from(check).equals(Buffer.from(payload))) throw new Error(`${algorithm} round trip failed`);
      const key = `${name}|${algorithm}`;
      const r = results.get(key) ?? { ratio: packed.length / payload.length, c: [], d: [] };
      r.c.push(speed(payload.length, () => compress(algorithm, payload)));
      r.d.push(speed(payload.length, () => decompress(flag, packed, payload.length)));
      results.set(key, r);
    }
  }
}

console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${ROUNDS} rounds, medians`,
);
console.log(
  '| payload | bytes | algorithm | ratio (out/in) | compress MB/s | decompress MB/s | compress vs deflate | decompress vs deflate |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const [name, payload] of payloads) {
  const base = results.get(`${name}|deflate`)!;
  for (const algorithm of ALGORITHMS) {
    const r = results.get(`${name}|${algorithm}`)!;
    const c = median(r.c);
    const d = median(r.d);
    console.log(
      `| ${name} | ${payload.length} | ${algorithm} | ${r.ratio.toFixed(3)} | ${c.toFixed(0)} | ${d.toFixed(0)} | ${(c / median(base.c)).toFixed(2)}x | ${(d / median(base.d)).toFixed(2)}x |`,
    );
  }
}
