// CRC-32 throughput, side by side in one run: `crc32` (zlib.crc32 from 192 bytes, JS below), the pure-JS
// fallback, and Buffer.copy of the same bytes as a memory-bandwidth baseline.
// Run: npx tsx packages/core/bench/crc32.bench.ts
import { crc32, crc32Implementation, crc32Js } from '../src/crc32.js';

const sizes = [64, 4096, 1 << 20];
const rounds = 5;

function measure(fn: () => void, bytesPerCall: number): number {
  let calls = 0;
  const budgetNs = 150_000_000n;
  const start = process.hrtime.bigint();
  let now = start;
  while (now - start < budgetNs) {
    for (let i = 0; i < 16; i++) fn();
    calls += 16;
    now = process.hrtime.bigint();
  }
  return (calls * bytesPerCall) / (Number(now - start) / 1e9);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const fmt = (bps: number) => `${(bps / 1e9).toFixed(2)} GB/s`;
console.log(
  `crc32 implementation in use: ${crc32Implementation}; Node ${process.version}; median of ${rounds} rounds`,
);
console.log('size      crc32()      pure JS      Buffer.copy  crc32/copy');
for (const size of sizes) {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
  const dst = Buffer.alloc(size);
  let sink = 0;
  const z: number[] = [];
  const js: number[] = [];
  const cp: number[] = [];
  for (let r = 0; r < rounds; r++) {
    z.push(
      measure(() => {
        sink ^= crc32(data);
      }, size),
    );
    js.push(
      measure(() => {
        sink ^= crc32Js(data);
      }, size),
    );
    cp.push(
      measure(() => {
        data.copy(dst);
      }, size),
    );
  }
  const label = size >= 1 << 20 ? `${size >> 20} MiB` : size >= 1024 ? `${size >> 10} KiB` : `${size} B`;
  console.log(
    `${label.padEnd(9)} ${fmt(median(z)).padEnd(12)} ${fmt(median(js)).padEnd(12)} ${fmt(median(cp)).padEnd(12)} ${(median(z) / median(cp)).toFixed(2)}x`,
  );
  if (sink === 0.5) console.log(sink);
}
