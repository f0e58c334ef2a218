// CPU time per 64 B message of the codec work a link does, universal wire beside the rust wire (the
// baseline): the frame encode the link calls (gather encode), a whole-frame decode, and a stream decoder
// fed chunks of 1000 frames. Every case runs in a fresh process (no JIT state shared between cases),
// `--rounds N` times (default 3), interleaved; the median of 5 timed loops per process is printed.
//   npx tsx packages/net/bench/wire-cpu.bench.ts [--rounds 3]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRustCodec } from '@tmesh/codec-rust';
import { createUniversalCodec } from '@tmesh/codec-universal';
import { defineMessage, MessageRegistry, t } from '@tmesh/core';

const CASES = [
  'universal-encode',
  'rust-encode',
  'universal-decode',
  'rust-decode',
  'universal-stream',
  'rust-stream',
];

function runCase(name: string): number {
  const Blob = defineMessage('bench.Blob', 9, t.struct('Blob', { data: t.bytes() }));
  const registry = new MessageRegistry([Blob]);
  const u = createUniversalCodec(registry);
  const r = createRustCodec(registry);
  const value = { data: new Uint8Array(64).fill(42) };
  const opts = { sequence: 5, flags: 0, timestamp: 1_700_000_000_000 };
  const uFrame = u.encode(Blob, value, opts);
  const rFrame = r.encode(Blob, value, opts);
  const thousand = (f: Uint8Array) => {
    const out = new Uint8Array(f.length * 1000);
    for (let i = 0; i < 1000; i++) out.set(f, i * f.length);
    return out;
  };
  const uStream = u.createDecoder();
  const rStream = r.createDecoder();
  const uChunk = thousand(uFrame);
  const rChunk = thousand(rFrame);
  const cases: Record<string, [() => unknown, number]> = {
    'universal-encode': [() => u.encodeGather(Blob, value, opts), 1],
    'rust-encode': [() => r.encodeParts!(Blob, value, opts), 1],
    'universal-decode': [() => u.decode(uFrame), 1],
    'rust-decode': [() => r.decode(rFrame), 1],
    'universal-stream': [() => uStream.push(uChunk), 1000],
    'rust-stream': [() => rStream.push(rChunk), 1000],
  };
  const [run, perCall] = cases[name]!;
  const calls = 3_000_000 / perCall;
  for (let i = 0; i < calls / 5; i++) run();
  const ns: number[] = [];
  for (let k = 0; k < 5; k++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) run();
    const { user, system } = process.cpuUsage(t0);
    ns.push(((user + system) * 1000) / (calls * perCall));
  }
  return ns.sort((a, b) => a - b)[2]!;
}

if (process.argv[2] === '--case') {
  console.log(runCase(process.argv[3]!).toFixed(0));
} else {
  const at = process.argv.indexOf('--rounds');
  const rounds = at > 0 ? Math.max(1, Number(process.argv[at + 1]) || 3) : 3;
  const results = new Map<string, number[]>(CASES.map((c) => [c, []]));
  const self = fileURLToPath(import.meta.url);
  for (let round = 0; round < rounds; round++) {
    for (const c of CASES) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--case', c], {
        encoding: 'utf8',
      });
      results.get(c)!.push(Number(out.trim()));
    }
  }
  console.log('| case (64 B payload) | CPU ns per message, each round |');
  console.log('|---|---|');
  for (const [c, xs] of results) console.log(`| ${c} | ${xs.join(' / ')} |`);
}
