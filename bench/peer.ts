// One side of a side-by-side measurement, run as its own process by bench/run.ts:
//   node --import tsx bench/peer.ts server <kind> '<json options>'
//   node --import tsx bench/peer.ts client <kind> '<json options>'
// A server prints one JSON line {ready, address} and then answers commands on stdin; a client prints
// {ready} and runs the workloads it is sent, one JSON line per command. Both answer {cmd: "rss"} with their
// current and peak resident set size, so run.ts reports the memory of each side.
import net from 'node:net';
import { createInterface } from 'node:readline';
import { crc32, sampleMessages } from '@tmesh/core';
import {
  createNode,
  GrpcBaselineClient,
  managerControl,
  startGrpcBaselineServer,
  startSinkNode,
} from '@tmesh/manager';
import { ShmChannel } from '@tmesh/shm-native';
import * as zmq from 'zeromq';
import {
  type Command,
  type PeerKind,
  type PeerOptions,
  seededPayload,
  type WorkloadResult,
} from './protocol.js';

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const now = () => process.hrtime.bigint();
const secondsSince = (t0: bigint) => Number(now() - t0) / 1e9;

function memory() {
  return { rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 };
}

// ---------------------------------------------------------------- raw socket framing
// Records are [u32 LE length][payload]; a length of END_MARK ends a one-way run and the receiver answers
// with the record count and payload bytes it delimited (two f64 LE).
const END_MARK = 0xffffffff;

/** A receiver that delimits every record, as a real one must; calls `done` on the end mark. */
function recordCounter(done: (msgs: number, bytes: number) => void) {
  let msgs = 0;
  let bytes = 0;
  let skip = 0;
  const head = Buffer.alloc(4);
  let fill = 0;
  return (d: Buffer) => {
    let at = 0;
    while (at < d.length) {
      if (skip > 0) {
        const k = Math.min(skip, d.length - at);
        skip -= k;
        at += k;
        continue;
      }
      let len: number;
      if (fill === 0 && at + 4 <= d.length) {
        len = d.readUInt32LE(at);
        at += 4;
      } else {
        head[fill++] = d[at++]!;
        if (fill < 4) continue;
        fill = 0;
        len = head.readUInt32LE(0);
      }
      if (len === END_MARK) {
        done(msgs, bytes);
        msgs = 0;
        bytes = 0;
        continue;
      }
      msgs++;
      bytes += len;
      skip = len;
    }
  };
}

async function rawServer(kind: 'raw-unix' | 'raw-tcp', path: string): Promise<string> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.once('data', (first: Buffer) => {
      // The first byte picks the mode of this connection: 'E' echoes bytes back, 'S' counts records.
      const mode = first[0];
      const rest = first.subarray(1);
      if (mode === 0x45) {
        sock.on('data', (d) => sock.write(d));
        if (rest.length) sock.write(rest);
        return;
      }
      const count = recordCounter((msgs, bytes) => {
        const out = Buffer.alloc(16);
        out.writeDoubleLE(msgs, 0);
        out.writeDoubleLE(bytes, 8);
        sock.write(out);
      });
      sock.on('data', count);
      if (rest.length) count(rest);
    });
    sock.on('error', () => {});
  });
  if (kind === 'raw-unix') {
    await new Promise<void>((r) => server.listen(path, r));
    return path;
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function connectRaw(address: string, mode: 'E' | 'S'): Promise<net.Socket> {
  const [host, port] = address.split(':');
  const sock = address.startsWith('/')
    ? net.connect({ path: address })
    : net.connect({ host: host!, port: Number(port) });
  sock.setNoDelay(true);
  await new Promise<void>((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  sock.write(mode);
  return sock;
}

// ---------------------------------------------------------------- bare shared-memory channel
// The @tmesh/shm-native layer without the facade (no codec, no frame CRC, no monitor): what the shm routes
// could reach. A 1-byte message 'E' or 'S' switches the server to echo or count; an empty one ends a count.
async function shmChannelServer(o: PeerOptions): Promise<string> {
  const name = `bench${process.pid}`;
  const ch = ShmChannel.create(name, { capacity: 8 << 20, ...(o.idle ? { idle: o.idle } : {}) });
  let echo = false;
  let msgs = 0;
  let bytes = 0;
  void (async () => {
    for (;;) {
      const batch = await ch.recvBatch({ timeout: 0 }).catch(() => undefined);
      if (!batch) return;
      for (const m of batch) {
        const n = m.data.length;
        if (n === 1) echo = m.data[0] === 0x45;
        else if (echo) {
          if (!ch.trySend(m.data)) await ch.send(m.data);
        } else if (n === 0) {
          const out = Buffer.alloc(16);
          out.writeDoubleLE(msgs, 0);
          out.writeDoubleLE(bytes, 8);
          await ch.send(out);
          msgs = 0;
          bytes = 0;
        } else {
          msgs++;
          bytes += n;
        }
      }
    }
  })();
  // The client needs the channel's token to open it: the address is `<name>:<token>`.
  return `${name}:${ch.token}`;
}

async function shmChannelClient(o: PeerOptions): Promise<Client> {
  const [name, token] = o.targets[0]!.split(':') as [string, string];
  const ch = ShmChannel.open(name, { token, ...(o.idle ? { idle: o.idle } : {}) });
  const put = async (b: Buffer) => {
    if (!ch.trySend(b)) await ch.send(b);
  };
  return {
    async rtt(payload, n, warm) {
      await put(Buffer.from('E'));
      return timeRtt(n, warm, async () => {
        await put(payload);
        await ch.recv();
      });
    },
    async oneway(payload, ms) {
      await put(Buffer.from('S'));
      // Small messages go out 256 per publish (trySendMany), as a socket sender coalesces writes.
      const group = Array.from({ length: 256 }, () => payload);
      let sent = 0;
      const t0 = now();
      while (Number(now() - t0) / 1e6 < ms) {
        if (payload.length <= 4096) {
          const k = ch.trySendMany(group);
          sent += k;
          if (k === 0) {
            await ch.send(payload);
            sent++;
          }
        } else {
          await put(payload);
          sent++;
        }
      }
      await put(Buffer.alloc(0));
      const reply = (await ch.recv()).data;
      const seconds = secondsSince(t0);
      const [m, b] = [reply.readDoubleLE(0), reply.readDoubleLE(8)];
      if (m !== sent || b !== sent * payload.length) throw new Error(`shm receiver counted ${m} of ${sent}`);
      return { msgs: sent, bytes: sent * payload.length, seconds };
    },
  };
}

// ---------------------------------------------------------------- zeromq
async function zmqServer(kind: 'zmq-ipc' | 'zmq-tcp', base: string): Promise<string> {
  const rep = new zmq.Reply();
  const pull = new zmq.Pull();
  const count = new zmq.Reply();
  const addr = (i: number) => (kind === 'zmq-ipc' ? `ipc://${base}-${i}` : 'tcp://127.0.0.1:0');
  await rep.bind(addr(0));
  await pull.bind(addr(1));
  await count.bind(addr(2));
  let msgs = 0;
  let bytes = 0;
  void (async () => {
    for await (const [m] of rep) await rep.send(m!);
  })();
  void (async () => {
    for await (const [m] of pull) {
      msgs++;
      bytes += m!.length;
    }
  })();
  void (async () => {
    for await (const _ of count) await count.send(JSON.stringify({ msgs, bytes }));
  })();
  return [rep.lastEndpoint, pull.lastEndpoint, count.lastEndpoint].join(' ');
}

// ---------------------------------------------------------------- servers
async function server(kind: PeerKind, o: PeerOptions): Promise<void> {
  let address = '';
  if (kind === 'tmesh') {
    const node = await startSinkNode({
      id: o.id!,
      runtimeDir: o.runtimeDir!,
      ...(o.machineId ? { machineId: o.machineId } : {}),
      ...(o.grpc ? { grpc: true } : {}),
      ...(o.idle ? { shmIdle: o.idle } : {}),
    });
    address = node.info.id;
  } else if (kind === 'shm-channel') address = await shmChannelServer(o);
  else if (kind === 'raw-unix' || kind === 'raw-tcp') address = await rawServer(kind, o.path!);
  else if (kind === 'zmq-ipc' || kind === 'zmq-tcp') address = await zmqServer(kind, o.path!);
  else if (kind === 'grpc') address = `127.0.0.1:${(await startGrpcBaselineServer('127.0.0.1', 0)).port}`;
  say({ ready: true, address });
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as Command;
    if (cmd.cmd === 'rss') say(memory());
  }
  process.exit(0);
}

// ---------------------------------------------------------------- clients
interface Client {
  /** 64 B round trips; returns microseconds per round trip (warm-up excluded). */
  rtt(payload: Buffer, n: number, warm: number, variant?: string): Promise<number[]>;
  /** Send `payload` repeatedly for `ms` to every target, then wait until each counted all of it. */
  oneway(payload: Buffer, ms: number): Promise<{ msgs: number; bytes: number; seconds: number }>;
}

async function timeRtt(n: number, warm: number, once: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < warm + n; i++) {
    const t0 = now();
    await once();
    if (i >= warm) out.push(Number(now() - t0) / 1000);
  }
  return out;
}

async function tmeshClient(o: PeerOptions): Promise<Client> {
  const node = await createNode({
    id: `bench-client-${process.pid}`,
    ...(o.machineId ? { machineId: o.machineId } : {}),
    types: [sampleMessages.FileChunk, sampleMessages.Metrics],
    discovery: { runtimeDir: o.runtimeDir! },
    ...(o.policy ? { policy: o.policy } : {}),
    transport: { unix: false, tcp: false, ...(o.idle ? { shm: { idle: o.idle } } : {}) },
  });
  const targets = o.targets;
  const counters = async (to: string) => {
    const r = await node.request(to, sampleMessages.FileChunk, {
      path: 'report',
      offset: 0n,
      sequence: 0,
      last: false,
      data: new Uint8Array(0),
    });
    const c = (r.value as { counters: Map<string, bigint> }).counters;
    return { count: Number(c.get('count')), bytes: Number(c.get('bytes')), crc: Number(c.get('crc')) };
  };
  // Wait until discovery found every target (they announced themselves before this process started).
  for (const t of targets) await counters(t);
  return {
    rtt: (payload, n, warm) =>
      timeRtt(n, warm, () => node.request(targets[0]!, managerControl.Echo, { payload })),
    async oneway(payload, ms) {
      const before = await Promise.all(targets.map(counters));
      const value = (i: number) => ({ path: 'b', offset: 0n, sequence: i, last: false, data: payload });
      // Pipelined sends: a sliding window of outstanding sends (64, or 4 of 1 MiB); backpressure applies to each.
      const window = payload.length >= 65536 ? 4 : 64;
      const inFlight: Promise<unknown>[] = [];
      let sent = 0;
      const t0 = now();
      // The clock is read once per 64 sends so the loop costs the sender little beside node.send.
      while ((sent & 63) !== 0 || Number(now() - t0) / 1e6 < ms) {
        if (inFlight.length >= window) await inFlight.shift();
        const p =
          targets.length === 1
            ? node.send(targets[0]!, sampleMessages.FileChunk, value(sent))
            : node.broadcast(sampleMessages.FileChunk, value(sent));
        p.catch(() => {}); // awaited below in order; this only keeps a later failure from going unhandled
        inFlight.push(p);
        sent++;
      }
      await Promise.all(inFlight);
      let after = await Promise.all(targets.map(counters));
      while (after.some((a, i) => a.count - before[i]!.count < sent)) {
        await new Promise((r) => setTimeout(r, 1));
        after = await Promise.all(targets.map(counters));
      }
      const seconds = secondsSince(t0);
      let crc = before[0]!.crc;
      for (let i = 0; i < sent; i++) crc = crc32(payload, crc);
      for (const [i, a] of after.entries()) {
        if (a.count - before[i]!.count !== sent || a.bytes - before[i]!.bytes !== sent * payload.length)
          throw new Error(`${targets[i]} counted ${a.count - before[i]!.count} of ${sent}`);
      }
      if (after[0]!.crc !== crc) throw new Error(`${targets[0]} CRC mismatch`);
      return { msgs: sent * targets.length, bytes: sent * targets.length * payload.length, seconds };
    },
  };
}

async function rawClient(o: PeerOptions): Promise<Client> {
  return {
    async rtt(payload, n, warm) {
      const sock = await connectRaw(o.targets[0]!, 'E');
      let pending = 0;
      let wake: (() => void) | undefined;
      sock.on('data', (d) => {
        pending -= d.length;
        if (pending <= 0) wake?.();
      });
      const out = await timeRtt(n, warm, () => {
        pending = payload.length;
        const p = new Promise<void>((r) => {
          wake = r;
        });
        sock.write(payload);
        return p;
      });
      sock.destroy();
      return out;
    },
    async oneway(payload, ms) {
      const socks = await Promise.all(o.targets.map((t) => connectRaw(t, 'S')));
      const size = payload.length;
      // Coalesced writes: small records copied into ~64 KiB writes, as a fast socket sender does.
      const perWrite = Math.max(1, Math.floor((64 * 1024) / (4 + size)));
      let sent = 0;
      const t0 = now();
      while (Number(now() - t0) / 1e6 < ms) {
        let chunks: Buffer[];
        if (size >= 65536) {
          const head = Buffer.alloc(4);
          head.writeUInt32LE(size, 0);
          chunks = [head, payload];
          sent++;
        } else {
          const chunk = Buffer.allocUnsafe(perWrite * (4 + size));
          for (let j = 0, at = 0; j < perWrite; j++, at += 4 + size) {
            chunk.writeUInt32LE(size, at);
            payload.copy(chunk, at + 4);
          }
          chunks = [chunk];
          sent += perWrite;
        }
        let drained = true;
        for (const s of socks) for (const c of chunks) drained = s.write(c) && drained;
        if (!drained)
          await Promise.all(
            socks.map((s) => (s.writableNeedDrain ? new Promise((r) => s.once('drain', r)) : undefined)),
          );
      }
      const end = Buffer.alloc(4);
      end.writeUInt32LE(END_MARK, 0);
      const counts = await Promise.all(
        socks.map(
          (s) =>
            new Promise<[number, number]>((resolve) => {
              s.once('data', (d: Buffer) => resolve([d.readDoubleLE(0), d.readDoubleLE(8)]));
              s.write(end);
            }),
        ),
      );
      const seconds = secondsSince(t0);
      for (const [m, b] of counts)
        if (m !== sent || b !== sent * size) throw new Error(`raw receiver counted ${m} of ${sent}`);
      for (const s of socks) s.destroy();
      return { msgs: sent * socks.length, bytes: sent * size * socks.length, seconds };
    },
  };
}

async function zmqClient(o: PeerOptions): Promise<Client> {
  const ends = o.targets.map((t) => t.split(' '));
  const req = new zmq.Request();
  req.connect(ends[0]![0]!);
  const pushes = ends.map((e) => {
    const s = new zmq.Push({ sendHighWaterMark: 10_000 });
    s.connect(e[1]!);
    return s;
  });
  const counters = ends.map((e) => {
    const s = new zmq.Request();
    s.connect(e[2]!);
    return s;
  });
  const count = async (i: number) => {
    await counters[i]!.send('count');
    const [r] = await counters[i]!.receive();
    return JSON.parse(r!.toString()) as { msgs: number; bytes: number };
  };
  return {
    rtt: (payload, n, warm) =>
      timeRtt(n, warm, async () => {
        await req.send(payload);
        await req.receive();
      }),
    async oneway(payload, ms) {
      const before = await Promise.all(ends.map((_, i) => count(i)));
      let sent = 0;
      const t0 = now();
      while (Number(now() - t0) / 1e6 < ms) {
        for (let k = 0; k < 64; k++) {
          for (const p of pushes) await p.send(payload);
        }
        sent += 64;
      }
      let after = await Promise.all(ends.map((_, i) => count(i)));
      while (after.some((a, i) => a.msgs - before[i]!.msgs < sent)) {
        await new Promise((r) => setTimeout(r, 1));
        after = await Promise.all(ends.map((_, i) => count(i)));
      }
      const seconds = secondsSince(t0);
      for (const [i, a] of after.entries())
        if (a.bytes - before[i]!.bytes !== sent * payload.length)
          throw new Error('zeromq byte count differs');
      return { msgs: sent * ends.length, bytes: sent * ends.length * payload.length, seconds };
    },
  };
}

async function grpcClient(o: PeerOptions): Promise<Client> {
  const clients = o.targets.map((t) => new GrpcBaselineClient(t));
  await clients[0]!.echo(Buffer.alloc(1));
  return {
    async rtt(payload, n, warm, variant) {
      if (variant !== 'stream') return timeRtt(n, warm, () => clients[0]!.echo(payload));
      const call = clients[0]!.exchange();
      let wake: (() => void) | undefined;
      call.on('data', () => wake?.());
      const out = await timeRtt(n, warm, () => {
        const p = new Promise<void>((r) => {
          wake = r;
        });
        call.write(payload);
        return p;
      });
      call.end();
      return out;
    },
    async oneway(payload, ms) {
      const t0 = now();
      const ups = await Promise.all(clients.map((c) => c.upload(payload, ms, 10_000_000)));
      const seconds = secondsSince(t0);
      let msgs = 0;
      let bytes = 0;
      for (const u of ups) {
        if (u.bytes % payload.length !== 0) throw new Error('grpc-js upload counted a partial message');
        msgs += u.bytes / payload.length;
        bytes += u.bytes;
      }
      return { msgs, bytes, seconds };
    },
  };
}

async function client(kind: PeerKind, o: PeerOptions): Promise<void> {
  const c =
    kind === 'tmesh'
      ? await tmeshClient(o)
      : kind === 'shm-channel'
        ? await shmChannelClient(o)
        : kind === 'raw-unix' || kind === 'raw-tcp'
          ? await rawClient(o)
          : kind === 'zmq-ipc' || kind === 'zmq-tcp'
            ? await zmqClient(o)
            : await grpcClient(o);
  say({ ready: true });
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as Command;
    if (cmd.cmd === 'rss') {
      say(memory());
      continue;
    }
    try {
      const payload = seededPayload(cmd.size, cmd.seed);
      let result: WorkloadResult;
      if (cmd.cmd === 'rtt') {
        result = { rttUs: await c.rtt(payload, cmd.count, cmd.warm, cmd.variant) };
      } else {
        await c.oneway(payload, cmd.warmMs);
        result = await c.oneway(payload, cmd.ms);
      }
      say({ ok: true, result });
    } catch (e) {
      say({ ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
  process.exit(0);
}

const [role, kind, json] = process.argv.slice(2);
(role === 'server' ? server : client)(kind as PeerKind, JSON.parse(json ?? '{}') as PeerOptions).catch(
  (e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
