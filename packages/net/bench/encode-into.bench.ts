// The link's per-message encode of a 64 B message, old way against new, in one run (interleaved rounds):
//   parts+copy: `encodeParts` into the codec's slab, then the frame copied into a 64 KiB send block (what
//               the link did before encodeFrameInto);
//   into:       `encodeInto`, header + payload written straight into the send block.
// CPU time (user + system) per message, the median of the rounds; both wires.
//   npx tsx packages/net/bench/encode-into.bench.ts [--rounds 5]
import { loadavg } from 'node:os';
import { defineMessage, MessageRegistry, t, type WireId } from '@tmesh/core';
import { wireAdapter } from '../src/framing.js';

const Blob = defineMessage('bench.Blob', 9, t.struct('Blob', { data: t.bytes() }));
const registry = new MessageRegistry([Blob]);
const value = { data: new Uint8Array(64).fill(42) };
const BLOCK = 64 * 1024;
const COUNT = 2_000_000;
const STAMP = 1_764_000_000_000;

function cases(wire: WireId): [string, (n: number) => void][] {
  const adapter = wireAdapter(wire, registry);
  let block = Buffer.allocUnsafeSlow(BLOCK);
  let fill = 0;
  const partsCopy = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const frame = adapter.encodeParts(Blob, value, i, 0, STAMP) as Uint8Array;
      if (fill + frame.length > block.length) {
        block = Buffer.allocUnsafeSlow(BLOCK);
        fill = 0;
      }
      // The link's copyInto: a loop below ~96 bytes beats TypedArray#set's call cost.
      if (frame.length > 96) block.set(frame, fill);
      else for (let k = 0; k < frame.length; k++) block[fill + k] = frame[k]!;
      fill += frame.length;
    }
  };
  const into = (n: number): void => {
    for (let i = 0; i < n; i++) {
      let end = adapter.encodeInto!(Blob, value, i, 0, STAMP, block, fill);
      if (end < 0) {
        block = Buffer.allocUnsafeSlow(BLOCK);
        end = adapter.encodeInto!(Blob, value, i, 0, STAMP, block, 0);
      }
      fill = end;
    }
  };
  return [
    [`${wire} parts+copy`, partsCopy],
    [`${wire} into`, into],
  ];
}

const roundsArg = process.argv.indexOf('--rounds');
const rounds = roundsArg > 0 ? Math.max(1, Number(process.argv[roundsArg + 1]) || 5) : 5;
const all = [...cases('rust'), ...cases('swift')];
for (const [, run] of all) run(200_000); // warm-up
const times = new Map<string, number[]>(all.map(([name]) => [name, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of all) {
    const c0 = process.cpuUsage();
    run(COUNT);
    const c = process.cpuUsage(c0);
    times.get(name)!.push(((c.user + c.system) * 1000) / COUNT);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `# 64 B message encode into a send block, ${rounds} rounds, node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('| case | CPU ns/msg (median) | rounds |');
console.log('|---|---|---|');
for (const [name, xs] of times) {
  console.log(`| ${name} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(', ')} |`);
}
