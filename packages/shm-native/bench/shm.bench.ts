// Side-by-side benchmark of @tmesh/shm-native against Node Unix-socket and TCP-loopback baselines, two
// processes each. Run from the repo root: npx tsx packages/shm-native/bench/shm.bench.ts
// The script re-runs itself as the peer process (`--peer ...`).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { IdleStrategy } from '@tmesh/core';
import { ShmChannel } from '../src/index.js';

const self = fileURLToPath(import.meta.url);
const QUICK = process.env.BENCH_QUICK === '1';
const RTT_ROUNDS = QUICK ? 2_000 : 20_000;
/** BENCH_ONLY='1 MiB' (say): only the stream rows whose name starts with it, no round trips. */
const ONLY = process.env.BENCH_ONLY;

// ---------------------------------------------------------------- peer process
async function peer(args: string[]): Promise<void> {
  const [transport, mode, target, ...rest] = args;
  const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  if (transport === 'shm') {
    const ch = ShmChannel.open(target!, {
      idle: rest[0] as IdleStrategy,
      token: process.env.TMESH_SHM_TOKEN ?? '',
    });
    say({ ready: true });
    if (mode === 'echo') {
      for (;;) {
        let m: Awaited<ReturnType<typeof ch.recv>>;
        try {
          m = await ch.recv({ timeout: 0 });
        } catch {
          break;
        }
        if (!ch.trySend(m.data)) await ch.send(m.data);
      }
    } else {
      const [size, count] = [Number(rest[1]), Number(rest[2])];
      const buf = Buffer.alloc(size, 0xab);
      if (size <= 4096) {
        // Small messages go out in groups behind one publish, as a socket sender coalesces writes.
        const group = Array.from({ length: 256 }, () => buf);
        for (let i = 0; i < count; ) {
          const k = ch.trySendMany(count - i >= group.length ? group : group.slice(0, count - i));
          i += k;
          if (k === 0 && i < count) {
            await ch.send(buf);
            i++;
          }
        }
      } else {
        for (let i = 0; i < count; i++) if (!ch.trySend(buf)) await ch.send(buf);
      }
      await ch.recv({ timeout: 0 }).catch(() => {}); // wait for the consumer to finish before closing
    }
    ch.close();
    return;
  }
  const sock = net.connect(
    transport === 'unix' ? { path: target! } : { port: Number(target), host: '127.0.0.1' },
  );
  sock.setNoDelay(true);
  await new Promise((res) => sock.once('connect', res));
  say({ ready: true });
  if (mode === 'echo') {
    sock.on('data', (d) => sock.write(d));
    await new Promise((res) => sock.once('close', res));
    return;
  }
  const [size, count] = [Number(rest[1]), Number(rest[2])];
  // Length-prefixed records; small ones coalesced into ~64 KiB writes (the fast way to use a socket),
  // each message copied into the write buffer as a real sender would.
  const msg = Buffer.alloc(size, 0xab);
  const perWrite = Math.max(1, Math.floor((64 * 1024) / (4 + size)));
  for (let sent = 0; sent < count; ) {
    const k = Math.min(perWrite, count - sent);
    let ok: boolean;
    if (size >= 65536) {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(size, 0);
      sock.write(head);
      ok = sock.write(msg);
    } else {
      const chunk = Buffer.allocUnsafe(k * (4 + size));
      for (let j = 0, at = 0; j < k; j++, at += 4 + size) {
        chunk.writeUInt32LE(size, at);
        msg.copy(chunk, at + 4);
      }
      ok = sock.write(chunk);
    }
    sent += k;
    if (!ok) await new Promise((res) => sock.once('drain', res));
  }
  await new Promise((res) => sock.once('close', res));
}

// ---------------------------------------------------------------- parent side
function startPeer(args: string[], shmToken = '') {
  // An shm peer needs the channel's token to open it; it travels in the environment.
  const proc = spawn(process.execPath, ['--import', 'tsx', self, '--peer', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TMESH_SHM_TOKEN: shmToken },
  });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', () => resolve());
    proc.once('exit', (c) => reject(new Error(`peer exited with ${c}`)));
  });
  return { proc, ready };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

let seq = 0;
const shmName = (tag: string) => `bench${process.pid % 10000}-${tag}${seq++}`;

async function shmRtt(idle: IdleStrategy): Promise<number[]> {
  const ch = ShmChannel.create(shmName('rtt'), { capacity: 1 << 20, idle });
  const p = startPeer(['shm', 'echo', ch.name, idle], ch.token);
  await p.ready;
  const msg = Buffer.alloc(64, 1);
  const times: number[] = [];
  for (let i = 0; i < RTT_ROUNDS + 1000; i++) {
    const t0 = process.hrtime.bigint();
    ch.trySend(msg);
    await ch.recv();
    if (i >= 1000) times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  ch.close();
  await new Promise((res) => p.proc.once('exit', res));
  return times.sort((a, b) => a - b);
}

async function listen(kind: 'unix' | 'tcp'): Promise<{ server: net.Server; target: string }> {
  const server = net.createServer();
  if (kind === 'unix') {
    const path = join(tmpdir(), `tmesh-bench-${process.pid}-${seq++}.sock`);
    await new Promise<void>((res) => server.listen(path, res));
    return { server, target: path };
  }
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return { server, target: String((server.address() as net.AddressInfo).port) };
}

async function socketRtt(kind: 'unix' | 'tcp'): Promise<number[]> {
  const { server, target } = await listen(kind);
  const conn = new Promise<net.Socket>((res) => server.once('connection', res));
  const p = startPeer([kind, 'echo', target]);
  const sock = await conn;
  sock.setNoDelay(true);
  await p.ready;
  const msg = Buffer.alloc(64, 1);
  const times: number[] = [];
  let pending = 0;
  let wake: (() => void) | undefined;
  sock.on('data', (d) => {
    pending -= d.length;
    if (pending <= 0 && wake) wake();
  });
  for (let i = 0; i < RTT_ROUNDS + 1000; i++) {
    const t0 = process.hrtime.bigint();
    pending = 64;
    const done = new Promise<void>((res) => {
      wake = res;
    });
    sock.write(msg);
    await done;
    if (i >= 1000) times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  sock.destroy();
  server.close();
  await new Promise((res) => p.proc.once('exit', res));
  return times.sort((a, b) => a - b);
}

/**
 * Rates of a one-way stream measured at the receiver: messages and bytes per second of wall time, then
 * per second of the receiver's CPU time (user + system), which moves far less with the machine's load.
 */
type Rates = [msgsPerSec: number, bytesPerSec: number, msgsPerCpuSec: number, bytesPerCpuSec: number];

/** CPU seconds (user + system) this process used since `since`. */
function cpuSecs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

/** One-way stream: rates measured at the receiver (see Rates). */
async function shmStream(
  size: number,
  count: number,
  idle: IdleStrategy,
  receive: 'copy' | 'lend' | 'into',
): Promise<Rates> {
  const ch = ShmChannel.create(shmName('s'), { capacity: 8 << 20, idle });
  const p = startPeer(['shm', 'stream', ch.name, idle, String(size), String(count)], ch.token);
  await p.ready;
  let got = 0;
  let bytes = 0;
  let t0 = 0n;
  let cpu0 = process.cpuUsage();
  const into = Buffer.alloc(size);
  while (got < count) {
    if (receive === 'into') {
      const m = await ch.recvInto(into);
      if (got === 0) [t0, cpu0] = [process.hrtime.bigint(), process.cpuUsage()];
      bytes += m.data.length;
      got++;
    } else if (receive === 'lend') {
      const m = await ch.lend();
      if (got === 0) [t0, cpu0] = [process.hrtime.bigint(), process.cpuUsage()];
      bytes += m.data.length;
      m.release();
      got++;
    } else if (size <= 4096) {
      const batch = await ch.recvBatch();
      if (got === 0) [t0, cpu0] = [process.hrtime.bigint(), process.cpuUsage()];
      for (const m of batch) bytes += m.data.length;
      got += batch.length;
    } else {
      const m = await ch.recv();
      if (got === 0) [t0, cpu0] = [process.hrtime.bigint(), process.cpuUsage()];
      bytes += m.data.length;
      got++;
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSecs(cpu0);
  ch.trySend(Buffer.alloc(1));
  await new Promise((res) => p.proc.once('exit', res));
  ch.close();
  return [(got - 1) / secs, (bytes - size) / secs, (got - 1) / cpu, (bytes - size) / cpu];
}

async function socketStream(kind: 'unix' | 'tcp', size: number, count: number): Promise<Rates> {
  const { server, target } = await listen(kind);
  const conn = new Promise<net.Socket>((res) => server.once('connection', res));
  const p = startPeer([kind, 'stream', target, '-', String(size), String(count)]);
  const sock = await conn;
  await p.ready;
  const total = count * (4 + size);
  let bytes = 0;
  let msgs = 0;
  let skip = 0; // payload bytes of the current record still to come
  let sink: Buffer | undefined;
  const hdr = Buffer.alloc(4);
  let hfill = 0; // header bytes of the next record seen so far
  let t0 = 0n;
  let cpu0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      if (bytes === 0) [t0, cpu0] = [process.hrtime.bigint(), process.cpuUsage()];
      bytes += d.length;
      // Walk the length prefixes so every message is really delimited, as a receiver must.
      let at = 0;
      while (at < d.length) {
        if (skip > 0) {
          const k = Math.min(skip, d.length - at);
          skip -= k;
          at += k;
          continue;
        }
        if (hfill === 0 && at + 4 <= d.length) {
          skip = d.readUInt32LE(at);
          at += 4;
          msgs++;
          if (at + skip <= d.length) {
            sink = d.subarray(at, at + skip); // a view per message, as the shm batch receive gives
            at += skip;
            skip = 0;
          }
          continue;
        }
        hdr[hfill++] = d[at++]!;
        if (hfill === 4) {
          skip = hdr.readUInt32LE(0);
          hfill = 0;
          msgs++;
        }
      }
      if (bytes >= total) resolve();
    });
  });
  if (msgs !== count || (size < 65536 && !sink))
    throw new Error(`socket baseline delimited ${msgs} messages, expected ${count}`);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSecs(cpu0);
  sock.destroy();
  server.close();
  await new Promise((res) => p.proc.once('exit', res));
  return [count / secs, (count * size) / secs, count / cpu, (count * size) / cpu];
}

function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

const ROUNDS = QUICK ? 1 : 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(`# @tmesh/shm-native benchmark, ${new Date().toISOString()}, node ${process.version}`);
  console.log(`# load average (1/5/15 min) at the start: ${load()}`);
  console.log(
    `# ${ROUNDS} interleaved rounds: every transport runs once per round, so load from other processes`,
  );
  console.log('# hits all of them alike; RTT percentiles pool the samples of all rounds, rates are medians.');
  if (!ONLY) await rttTable();
  await streamTable();
  console.log(`Load average (1/5/15 min) at the end: ${load()}.`);
}

async function rttTable(): Promise<void> {
  console.log('\n## 64 B ping-pong round trip (us), two processes\n');
  console.log('| transport | p50 | p99 | Unix p50 / this p50 |');
  console.log('|---|---|---|---|');
  const rtt: Record<string, number[]> = {};
  const rttRows: [string, () => Promise<number[]>][] = [
    ["shm 'spin'", () => shmRtt('spin')],
    ["shm 'adaptive'", () => shmRtt('adaptive')],
    ["shm 'park'", () => shmRtt('park')],
    ['Unix socket', () => socketRtt('unix')],
    ['TCP loopback', () => socketRtt('tcp')],
  ];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, run] of rttRows) rtt[name] = [...(rtt[name] ?? []), ...(await run())];
  }
  for (const t of Object.values(rtt)) t.sort((a, b) => a - b);
  const u50 = pct(rtt['Unix socket']!, 0.5);
  for (const [name] of rttRows) {
    const t = rtt[name]!;
    console.log(`| ${name} | ${fmt(pct(t, 0.5))} | ${fmt(pct(t, 0.99))} | ${fmt(u50 / pct(t, 0.5))}x |`);
  }
}

async function streamTable(): Promise<void> {
  console.log('\n## One-way streams, two processes (receiver-side rate, median of rounds)\n');
  console.log('| message | shm | Unix socket | TCP loopback | shm / Unix | shm / TCP |');
  console.log('|---|---|---|---|---|---|');
  const big = QUICK ? 1000 : 4000;
  const small = QUICK ? 1_000_000 : 3_000_000;
  const mid = QUICK ? 200_000 : 500_000;
  const allStreamRows: [string, 'msgs' | 'bytes', () => Promise<Rates>][] = [
    ["64 B (M msgs/s), shm 'park'", 'msgs', () => shmStream(64, small, 'park', 'copy')],
    ["64 B (M msgs/s), shm 'spin'", 'msgs', () => shmStream(64, small, 'spin', 'copy')],
    ['64 B (M msgs/s), Unix', 'msgs', () => socketStream('unix', 64, small)],
    ['64 B (M msgs/s), TCP', 'msgs', () => socketStream('tcp', 64, small)],
    ["4 KiB (GB/s), shm 'park'", 'bytes', () => shmStream(4096, mid, 'park', 'copy')],
    ['4 KiB (GB/s), Unix', 'bytes', () => socketStream('unix', 4096, mid)],
    ['4 KiB (GB/s), TCP', 'bytes', () => socketStream('tcp', 4096, mid)],
    ["1 MiB (GB/s), shm 'park'", 'bytes', () => shmStream(1 << 20, big, 'park', 'copy')],
    [
      "1 MiB (GB/s), shm 'park', receive into a reused buffer",
      'bytes',
      () => shmStream(1 << 20, big, 'park', 'into'),
    ],
    ["1 MiB (GB/s), shm 'park', lending receive", 'bytes', () => shmStream(1 << 20, big, 'park', 'lend')],
    ["1 MiB (GB/s), shm 'spin'", 'bytes', () => shmStream(1 << 20, big, 'spin', 'copy')],
    [
      "1 MiB (GB/s), shm 'spin', receive into a reused buffer",
      'bytes',
      () => shmStream(1 << 20, big, 'spin', 'into'),
    ],
    ['1 MiB (GB/s), Unix', 'bytes', () => socketStream('unix', 1 << 20, big)],
    ['1 MiB (GB/s), TCP', 'bytes', () => socketStream('tcp', 1 << 20, big)],
  ];
  const streamRows = allStreamRows.filter(([name]) => !ONLY || name.startsWith(ONLY));
  const rates: Record<string, number[]> = {};
  const cpuRates: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, unit, run] of streamRows) {
      const res = await run();
      rates[name] = [...(rates[name] ?? []), unit === 'msgs' ? res[0] / 1e6 : res[1] / 1e9];
      cpuRates[name] = [...(cpuRates[name] ?? []), unit === 'msgs' ? res[2] / 1e6 : res[3] / 1e9];
    }
  }
  const m = (k: string) => median(rates[k]!);
  const line = (label: string, shm: string, size: string) => {
    if (!rates[shm] || !rates[`${size}, Unix`] || !rates[`${size}, TCP`]) return; // left out by BENCH_ONLY
    const [ps, pu, pt] = [m(shm), m(`${size}, Unix`), m(`${size}, TCP`)];
    console.log(`| ${label} | ${fmt(ps)} | ${fmt(pu)} | ${fmt(pt)} | ${fmt(ps / pu)}x | ${fmt(ps / pt)}x |`);
  };
  line("64 B (M msgs/s), 'park'", "64 B (M msgs/s), shm 'park'", '64 B (M msgs/s)');
  line("64 B (M msgs/s), 'spin'", "64 B (M msgs/s), shm 'spin'", '64 B (M msgs/s)');
  line("4 KiB (GB/s), 'park'", "4 KiB (GB/s), shm 'park'", '4 KiB (GB/s)');
  line("1 MiB (GB/s), 'park'", "1 MiB (GB/s), shm 'park'", '1 MiB (GB/s)');
  line(
    "1 MiB (GB/s), 'park', into a reused buffer",
    "1 MiB (GB/s), shm 'park', receive into a reused buffer",
    '1 MiB (GB/s)',
  );
  line("1 MiB (GB/s), 'park', lending receive", "1 MiB (GB/s), shm 'park', lending receive", '1 MiB (GB/s)');
  line("1 MiB (GB/s), 'spin'", "1 MiB (GB/s), shm 'spin'", '1 MiB (GB/s)');
  line(
    "1 MiB (GB/s), 'spin', into a reused buffer",
    "1 MiB (GB/s), shm 'spin', receive into a reused buffer",
    '1 MiB (GB/s)',
  );
  console.log('\nPer-round rates:');
  for (const [name] of streamRows) console.log(`- ${name}: ${rates[name]!.map((x) => fmt(x)).join(', ')}`);
  console.log(
    "\nPer receiver CPU-second (the same unit per second of the receiving process's user + system time,",
  );
  console.log('median of rounds; what one receiving core would do, little moved by load):');
  for (const [name] of streamRows) console.log(`- ${name}: ${fmt(median(cpuRates[name]!))}`);
  console.log(
    '\nshm: 8 MiB rings; small messages sent with trySendMany (256 per call), received with recvBatch;',
  );
  console.log(
    '1 MiB received with recv (one copy into a new Buffer), recvInto (one copy into one reused Buffer)',
  );
  console.log(
    'or lend (no copy). Sockets: length-prefixed records, senders copy small ones into 64 KiB writes,',
  );
  console.log('receivers delimit every record.');
}

if (process.argv[2] === '--peer') {
  peer(process.argv.slice(3)).then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
