// A/B of the receive path of rust/swift links, in one run: the receiver's CPU time per message with
// socket reads through onread (direct-read.ts, the default) and through Node's 'data' chunks (the
// fallback, as before onread), alternating the order every round. Each receiver is its own process (a
// fork of this script), the sender is a link in the main process; both on 127.0.0.1.
//   npx tsx packages/net/bench/recv.bench.ts                     (5 rounds, 400 x 1 MiB per case)
//   npx tsx packages/net/bench/recv.bench.ts --rounds 7 --count 400 --size 1048576 --wires rust,swift
//   npx tsx packages/net/bench/recv.bench.ts --burst   (trySend until the send queue is full, then wait)
// BENCH_PROF=<dir> writes the receivers' CPU profiles under <dir>/onread and <dir>/data.
// CPU time (user + system) of the receiving process from its first to its last message, per message.
import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { WireId } from '@tmesh/core';
import { setDirectReads } from '../src/direct-read.js';
import { connect, listen } from '../src/index.js';
import { Blob, registry, self } from './common.js';

type Variant = 'onread' | 'data';
const burst = process.argv.includes('--burst');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}

async function serve(variant: Variant, expected: number): Promise<void> {
  setDirectReads(variant === 'onread');
  let received = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  const server = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    {
      self: self('recv'),
      registry,
      onLink: (link) =>
        link.on('message', () => {
          if (++received === 1) cpu0 = process.cpuUsage();
          else if (received === expected) {
            const { user, system } = process.cpuUsage(cpu0);
            process.send!({ user, system });
          }
        }),
    },
  );
  process.send!({ port: (server.address() as { port: number }).port });
  process.on('disconnect', () => process.exit(0));
}

interface Sample {
  user: number;
  system: number;
  /** The sender's CPU time (user + system) over the whole run, µs. */
  sender?: number;
}

async function run(variant: Variant, wire: WireId, count: number, size: number): Promise<Sample> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', variant, String(count)], {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}/${variant}`]
        : []),
    ],
    stdio: 'inherit',
  });
  let port!: number;
  const result = new Promise<Sample>((resolve) => {
    child.on('message', (m: { port?: number } & Partial<Sample>) => {
      if (m.port) port = m.port;
      if (m.user !== undefined) resolve(m as Sample);
    });
  });
  while (port === undefined) await new Promise((r) => setTimeout(r, 5));
  const link = await connect(
    { kind: 'tcp', host: '127.0.0.1', port },
    { self: self('send'), registry, wires: [wire], reconnect: false },
  );
  const data = new Uint8Array(size).fill(42);
  const value = { data };
  const cpu0 = process.cpuUsage();
  // --burst: queue as much as the send queue takes before waiting (as net.bench.ts sends).
  if (burst) for (let i = 0; i < count; i++) !link.trySend(Blob, value) && (await link.send(Blob, value));
  else for (let i = 0; i < count; i++) await link.send(Blob, value);
  const sample = await result;
  const { user, system } = process.cpuUsage(cpu0);
  sample.sender = user + system;
  await link.close();
  child.disconnect();
  return sample;
}

async function main(): Promise<void> {
  const rounds = Number(arg('rounds', '5'));
  const count = Number(arg('count', '400'));
  const size = Number(arg('size', String(1 << 20)));
  const wires = arg('wires', 'rust,swift').split(',') as WireId[];
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`# receive path A/B, ${new Date().toISOString()}, node ${process.version}, load ${load()}`);
  console.log(
    `# ${rounds} rounds x ${count} messages of ${size} bytes; CPU µs per message of the receiver (and of the sender)`,
  );
  const samples = new Map<string, number[]>();
  const senders = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    const order: Variant[] = round % 2 === 0 ? ['data', 'onread'] : ['onread', 'data'];
    for (const wire of wires) {
      for (const variant of order) {
        const s = await run(variant, wire, count, size);
        const per = (s.user + s.system) / (count - 1);
        const key = `${wire} ${variant}`;
        const sender = s.sender! / count;
        samples.set(key, [...(samples.get(key) ?? []), per]);
        senders.set(key, [...(senders.get(key) ?? []), sender]);
        console.log(
          `[round ${round + 1}] ${key}: ${per.toPrecision(3)} µs (user ${(s.user / (count - 1)).toPrecision(3)}, sys ${(s.system / (count - 1)).toPrecision(3)}; sender ${sender.toPrecision(3)}), load ${load()}`,
        );
      }
    }
  }
  console.log(
    '| wire | receiver, data chunks: median (min-max) | receiver, onread: median (min-max) | onread / data | sender median, data / onread |',
  );
  console.log('|---|---|---|---|---|');
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const f = (x: number) => x.toPrecision(3);
  const span = (v: number[]) => `${f(med(v))} (${f(Math.min(...v))}-${f(Math.max(...v))})`;
  for (const wire of wires) {
    const d = samples.get(`${wire} data`)!;
    const o = samples.get(`${wire} onread`)!;
    const sd = med(senders.get(`${wire} data`)!);
    const so = med(senders.get(`${wire} onread`)!);
    console.log(
      `| ${wire} | ${span(d)} | ${span(o)} | ${(med(o) / med(d)).toFixed(2)}x | ${f(sd)} / ${f(so)} |`,
    );
  }
  console.log(`# load at the end ${load()}`);
}

if (process.argv[2] === '--serve') void serve(process.argv[3] as Variant, Number(process.argv[4]));
else void main();
