// Both ends of a round trip in one process: CPU per round trip of a link request vs a raw TCP echo.
//   npx tsx packages/net/bench/rtt-inproc.ts [count]
import net from 'node:net';
import { connect, listen } from '../src/index.js';
import { Blob, registry, self } from './common.js';

const count = Number(process.argv[2] ?? 20000);
const payload = new Uint8Array(64).fill(42);

async function raw(): Promise<number> {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d) => s.write(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const c = net.connect({ host: '127.0.0.1', port });
  c.setNoDelay(true);
  await new Promise((r) => c.once('connect', r));
  let pending: (() => void) | undefined;
  let got = 0;
  c.on('data', (d) => {
    got += d.length;
    if (got >= 64) {
      got -= 64;
      pending?.();
    }
  });
  const once = () =>
    new Promise<void>((r) => {
      pending = r;
      c.write(payload);
    });
  for (let i = 0; i < 1000; i++) await once();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < count; i++) await once();
  const { user, system } = process.cpuUsage(cpu0);
  c.destroy();
  server.close();
  return (user + system) / count;
}

async function link(wire: 'rust' | 'swift' | 'universal'): Promise<number> {
  const server = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    {
      self: self('s'),
      registry,
      heartbeatMs: 0,
      onLink: (l) => l.onRequest((m) => ({ type: Blob, value: m.value })),
    },
  );
  const port = (server.address() as { port: number }).port;
  const l = await connect(
    { kind: 'tcp', host: '127.0.0.1', port },
    { self: self('c'), registry, wires: [wire], heartbeatMs: 0 },
  );
  const value = { data: payload };
  for (let i = 0; i < 1000; i++) await l.request(Blob, value);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < count; i++) await l.request(Blob, value);
  const { user, system } = process.cpuUsage(cpu0);
  await l.close();
  await server.close();
  return (user + system) / count;
}

const rounds = Number(process.env.ROUNDS ?? 3);
for (let r = 0; r < rounds; r++) {
  if (process.env.ONLY_LINK) {
    // ONLY_LINK=1 (rust) or a wire name: that link alone, for a profiler.
    const wire = (['swift', 'universal'].includes(process.env.ONLY_LINK) ? process.env.ONLY_LINK : 'rust') as
      | 'rust'
      | 'swift'
      | 'universal';
    const b = await link(wire);
    console.log(`link-${wire} ${b.toFixed(2)}`);
    continue;
  }
  const a = await raw();
  const b = await link('rust');
  const c = process.env.ALL ? await link('universal') : 0;
  console.log(
    `round ${r + 1}: raw ${a.toFixed(2)} µs, link-rust ${b.toFixed(2)} µs (${(b / a).toFixed(2)}x)${c ? `, link-universal ${c.toFixed(2)} µs` : ''}`,
  );
}
process.exit(0);
