// Reads through Node's onread option (direct-read.ts) over real sockets: big frames split across reads of
// random sizes arrive whole and byte for byte, most of their bytes read straight into the frame's buffer;
// payload views stay intact while later reads arrive; accepted sockets keep the server's connection count;
// and links work with onread on and off (the fallback path).
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { DecodedMessage, WireId } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  adoptDirect,
  allocatorPrimed,
  connectDirect,
  DIRECT_MIN,
  directReadsOf,
  setAllocatorPriming,
  setDirectReads,
} from './direct-read.js';
import { wireAdapter } from './framing.js';
import { connect, listen } from './index.js';
import { chunk, FileChunk, node, registry, waitUntil } from './test-support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  setDirectReads(true);
  setAllocatorPriming(process.platform === 'linux');
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sha = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
const filled = (n: number, seed: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 7 + (i >> 9)) & 0xff;
  return b;
};

/** A small deterministic PRNG (xorshift32), so a failing split can be replayed. */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** A server whose accepted socket goes through adoptDirect, and a plain client socket to write with. */
async function socketPair() {
  let accepted!: (s: net.Socket) => void;
  const receiving = new Promise<net.Socket>((r) => {
    accepted = r;
  });
  const server = net.createServer({ pauseOnConnect: true }, (s) => accepted(adoptDirect(s)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => client.once('connect', r).once('error', j));
  const socket = await receiving;
  cleanups.push(
    () => new Promise<void>((r) => server.close(() => r())),
    () => client.destroy(),
    () => socket.destroy(),
  );
  return { server, client, socket };
}

// Big frames, and runs of small ones (some of which lie whole inside one read: views of its chunk).
const SMALL = Array.from({ length: 40 }, (_, i) => (i * 53) % 700);
const SIZES = [
  1 << 20,
  ...SMALL,
  (1 << 20) + 7,
  0,
  100_000,
  DIRECT_MIN - 1,
  DIRECT_MIN,
  ...SMALL,
  3 << 20,
  40_000,
  1 << 20,
  ...SMALL,
];

/**
 * Write a stream of frames to `client` in pieces of random sizes, each once the previous one was read,
 * so no read spans two pieces: the reads split the stream at least at every piece boundary (the kernel
 * may split further). Checks every message afterwards, byte for byte.
 */
async function splitRun(wire: WireId, direct: boolean, seed: number): Promise<void> {
  const { client, socket } = await socketPair();
  const reads = directReadsOf(socket);
  expect(reads !== undefined).toBe(direct);
  const adapter = wireAdapter(wire, registry);
  const reader = adapter.createReader(4 << 20);
  const sent = SIZES.map((n, i) => filled(n, i + seed));
  const stream = Buffer.concat(sent.map((d, i) => adapter.encode(FileChunk, chunk(i, d), i + 1, 0)));
  const received: DecodedMessage[] = [];
  const errors: unknown[] = [];
  let bytesIn = 0;
  let directBytes = 0;
  let wake: (() => void) | undefined;
  const arrived = (n: number) => {
    bytesIn += n;
    wake?.();
  };
  socket.on('data', (c: Buffer) => {
    try {
      received.push(...reader(c));
    } catch (error) {
      errors.push(error);
    }
    arrived(c.length);
  });
  reads?.attach(reader.direct!, (buf, n) => {
    try {
      received.push(...reader.direct!.filled(buf, n));
    } catch (error) {
      errors.push(error);
    }
    directBytes += n;
    arrived(n);
  });
  socket.resume();
  const rand = prng(seed);
  let sentBytes = 0;
  let pieces = 0;
  while (sentBytes < stream.length) {
    const kind = rand(4);
    const size = kind === 0 ? 1 + rand(40) : kind === 1 ? 1 + rand(4096) : 1 + rand(300_000);
    const piece = stream.subarray(sentBytes, Math.min(stream.length, sentBytes + size));
    sentBytes += piece.length;
    pieces++;
    const read = new Promise<void>((r) => {
      wake = () => {
        if (bytesIn >= sentBytes) r();
      };
    });
    client.write(piece);
    await read;
  }
  expect(errors).toEqual([]);
  expect(pieces).toBeGreaterThan(20);
  expect(received.map((m) => (m.value as ReturnType<typeof chunk>).sequence)).toEqual(SIZES.map((_, i) => i));
  // Every payload view is checked after all reads, so a later read written over one would show.
  received.forEach((m, i) => {
    expect(sha((m.value as ReturnType<typeof chunk>).data)).toBe(sha(sent[i]!));
  });
  if (direct) expect(directBytes).toBeGreaterThan(stream.length / 2);
  else expect(directBytes).toBe(0);
}

describe.each(['rust', 'swift', 'universal'] as WireId[])('onread reads on the %s wire', (wire) => {
  it.each([true, false])(
    '1 MiB frames split across reads of random sizes arrive whole, byte for byte (onread %s)',
    async (direct) => {
      setDirectReads(direct);
      await splitRun(wire, direct, wire === 'rust' ? 7 : wire === 'swift' ? 11 : 13);
    },
    60_000,
  );

  it('three sockets read at once (sharing the read buffer), each stream whole', async () => {
    await Promise.all([21, 22, 23].map((seed) => splitRun(wire, true, seed)));
  }, 60_000);
});

describe('onread sockets', () => {
  it('the allocator is tuned once, at the first read into a frame, only with priming on', async () => {
    setAllocatorPriming(false);
    await splitRun('universal', true, 31);
    expect(allocatorPrimed()).toBe(false);
    setAllocatorPriming(true);
    expect(allocatorPrimed()).toBe(false);
    setDirectReads(false); // 'data' chunks only: no read lands in a frame
    await splitRun('universal', false, 32);
    expect(allocatorPrimed()).toBe(false);
    setDirectReads(true);
    await splitRun('rust', true, 33);
    expect(allocatorPrimed()).toBe(true);
  }, 60_000);

  it('an adopted socket keeps the server connection count: getConnections and close() see it', async () => {
    const { server, client, socket } = await socketPair();
    expect(directReadsOf(socket)).toBeDefined();
    const count = () => new Promise<number>((r, j) => server.getConnections((e, n) => (e ? j(e) : r(n))));
    expect(await count()).toBe(1);
    const closed = new Promise<void>((r) => server.close(() => r()));
    socket.resume();
    client.end();
    socket.on('end', () => socket.end());
    // Resolves only once the adopted socket closed and the count went back to 0.
    await Promise.race([
      closed,
      new Promise((_, j) => setTimeout(() => j(new Error('server.close() still waits')), 5000)),
    ]);
    expect(await count()).toBe(0);
  });

  it('an accepted socket that already read is left as it is', async () => {
    const server = net.createServer((s) => {
      s.on('data', () => {});
      // Reading (not created paused): adoptDirect must not rewrap it.
      const same = adoptDirect(s);
      expect(same).toBe(s);
      expect(directReadsOf(s)).toBeUndefined();
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const client = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
    client.resume();
    await new Promise<void>((r) => client.on('close', () => r()));
  });

  it('reads into the shared buffer keep Node semantics: bytes that came before a data listener are kept', async () => {
    const server = net.createServer((s) => s.end(Buffer.from('hello from the server')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const client = connectDirect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
    expect(directReadsOf(client)).toBeDefined();
    await new Promise<void>((r) => client.once('connect', r));
    await new Promise((r) => setTimeout(r, 50)); // the bytes arrive while nobody listens
    const parts: Buffer[] = [];
    client.on('data', (d: Buffer) => parts.push(Buffer.from(d)));
    await new Promise<void>((r) => client.on('end', () => r()));
    expect(Buffer.concat(parts).toString()).toBe('hello from the server');
  });
});

describe.each([true, false])('links with onread %s', (direct) => {
  it.each(['rust', 'swift', 'universal'] as WireId[])(
    '%s: big and small messages arrive byte for byte both ways, and the server closes',
    async (wire) => {
      setDirectReads(direct);
      const atServer: DecodedMessage[] = [];
      const server = await listen(
        { kind: 'tcp', host: '127.0.0.1', port: 0 },
        {
          self: node('server'),
          registry,
          onLink: (l) => {
            l.on('message', (m) => {
              atServer.push(m);
              void l.send(FileChunk, m.value as ReturnType<typeof chunk>);
            });
          },
        },
      );
      let serverClosed = false;
      cleanups.push(async () => {
        if (!serverClosed) await server.close();
      });
      const link = await connect(
        { kind: 'tcp', host: '127.0.0.1', port: (server.address() as { port: number }).port },
        { self: node('client'), registry, wires: [wire], reconnect: false },
      );
      cleanups.push(() => link.close());
      const atClient: DecodedMessage[] = [];
      link.on('message', (m) => atClient.push(m));
      const sizes = [1 << 20, 64, 2 << 20, 0, 70_000, 1 << 20, 5];
      const sent = sizes.map((n, i) => filled(n, i + 3));
      for (let i = 0; i < sent.length; i++) await link.send(FileChunk, chunk(i, sent[i]));
      await waitUntil(() => atClient.length === sent.length, 20_000, 'the echoes');
      for (const got of [atServer, atClient]) {
        got.forEach((m, i) => {
          const v = m.value as ReturnType<typeof chunk>;
          expect(v.sequence).toBe(i);
          expect(sha(v.data)).toBe(sha(sent[i]!));
        });
      }
      await link.close();
      serverClosed = true;
      await server.close(); // waits for the accepted (adopted) socket to close
    },
    30_000,
  );
});
