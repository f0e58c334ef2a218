// CRC-32 implementations side by side on the same buffers, in one run: Node's zlib.crc32, the addon's
// crc32fast (@tmesh/shm-native/checksum, what links install through core's setCrc32Accelerator) and
// core's pure-JS slicing-by-8. Median ns per call of 5 interleaved rounds.
//   npx tsx packages/net/bench/crc.bench.ts
import { loadavg } from 'node:os';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32Js } from '@tmesh/core';
import { nativeCrc32, nativeCrc32Unavailable } from '@tmesh/shm-native/checksum';

const native = nativeCrc32();
if (!native) {
  console.error(`the addon's crc32 is not available: ${nativeCrc32Unavailable()}`);
  process.exit(1);
}
const impls: [string, (d: Uint8Array) => number][] = [
  ['zlib.crc32', (d) => zlibCrc32(d)],
  ['addon crc32fast', (d) => native(d, 0)],
  ['pure JS', (d) => crc32Js(d)],
];
const sizes = [72, 128, 160, 192, 256, 1024, 64 * 1024, 1 << 20];
const ROUNDS = 5;

function timeNs(f: (d: Uint8Array) => number, data: Uint8Array): number {
  // About 20 ms of work per measurement, at least 3 calls.
  const calls = Math.max(3, Math.floor(20e6 / (data.length * 2 + 100)));
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink ^= f(data);
  const ns = Number(process.hrtime.bigint() - t0) / calls;
  if (sink === 0.5) console.log(sink); // keep the result alive
  return ns;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ns: number, bytes: number) =>
  ns >= 1000 ? `${(ns / 1000).toFixed(1)} µs (${(bytes / ns).toFixed(1)} GB/s)` : `${ns.toFixed(0)} ns`;

console.log(
  `# CRC-32, ${new Date().toISOString()}, node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('| bytes | zlib.crc32 | addon crc32fast | pure JS | addon vs zlib |');
console.log('|---|---|---|---|---|');
for (const n of sizes) {
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (i * 2654435761) >>> 24;
  for (const [name, f] of impls) {
    if (f(data) !== zlibCrc32(data)) throw new Error(`${name} disagrees with zlib at ${n} bytes`);
  }
  const samples = impls.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, [, f]] of impls.entries()) samples[k]!.push(timeNs(f, data));
  }
  const [z, a, j] = samples.map(median) as [number, number, number];
  console.log(`| ${n} | ${fmt(z, n)} | ${fmt(a, n)} | ${fmt(j, n)} | ${(z / a).toFixed(1)}x |`);
}

// A received 1 MiB frame checksummed once it is whole (what the links do) against per 128 KiB piece right
// after each piece lands (while it is still in cache), with the addon's CRC: the copy stands in for the
// kernel's read, from a 256 MiB source so the bytes come from memory. µs per MiB, median of rounds.
{
  const MIB = 1 << 20;
  const PIECE = 128 * 1024;
  const source = Buffer.alloc(256 * MIB);
  for (let i = 0; i < source.length; i += 4096) source[i] = i >>> 12;
  const frame = Buffer.alloc(MIB);
  const whole: number[] = [];
  const pieces: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let a = 0n;
    let b = 0n;
    for (let m = 0; m < 128; m++) {
      const src = source.subarray(m * 2 * MIB, m * 2 * MIB + MIB);
      let t = process.hrtime.bigint();
      frame.set(src);
      native(frame, 0);
      a += process.hrtime.bigint() - t;
      const src2 = source.subarray((m * 2 + 1) * MIB, (m * 2 + 2) * MIB);
      t = process.hrtime.bigint();
      let crc = 0;
      for (let off = 0; off < MIB; off += PIECE) {
        frame.set(src2.subarray(off, off + PIECE), off);
        crc = native(frame.subarray(off, off + PIECE), crc);
      }
      b += process.hrtime.bigint() - t;
      if (crc === 0.5) console.log(crc);
    }
    whole.push(Number(a) / 128 / 1000);
    pieces.push(Number(b) / 128 / 1000);
  }
  console.log('');
  console.log('| 1 MiB copied in, then checksummed | copied and checksummed per 128 KiB |');
  console.log('|---|---|');
  console.log(`| ${median(whole).toFixed(1)} µs | ${median(pieces).toFixed(1)} µs |`);
}
