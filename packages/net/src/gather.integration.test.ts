// Gather writes over real links: big bytes fields leave from the sender's own arrays (no copy into a
// frame) and arrive byte for byte; a retransmitted frame whose array changed goes out with a fresh
// checksum instead of one the peer would refuse.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { type DecodedMessage, GATHER_MIN_BYTES, type WireId } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Link, listen } from './index.js';
import { chunk, FileChunk, nextEvent, node, registry, waitUntil } from './test-support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sha = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
const filled = (n: number, seed: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 7) & 0xff;
  return b;
};

/** A TCP proxy that can stop forwarding (blackhole) and cut its connections. */
async function proxy(targetPort: number) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((a) => {
    const b = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [a, b]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    a.pipe(b);
    b.pipe(a);
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    blackhole: () => {
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    cut: () => {
      for (const s of sockets) s.resetAndDestroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function pair(wire: WireId, port?: number) {
  const received: DecodedMessage[] = [];
  const server = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    { self: node('server'), registry, onLink: (l) => l.on('message', (m) => received.push(m)) },
  );
  cleanups.push(() => server.close());
  const serverPort = (server.address() as { port: number }).port;
  const p = port === undefined ? await proxy(serverPort) : undefined;
  if (p) cleanups.push(() => p.close());
  const link: Link = await connect(
    { kind: 'tcp', host: '127.0.0.1', port: p ? p.port : serverPort },
    { self: node('client'), registry, wires: [wire], reconnect: { initialMs: 20, maxMs: 200 } },
  );
  cleanups.push(() => link.close());
  return { link, received, proxy: p! };
}

describe.each(['rust', 'swift', 'universal'] as WireId[])('gather writes over a %s link', (wire) => {
  it('delivers big and small bytes fields, interleaved, byte for byte and in order', async () => {
    const { link, received } = await pair(wire);
    const sizes = [1 << 20, 10, GATHER_MIN_BYTES, GATHER_MIN_BYTES - 1, 3 << 20, 0, 200_000, 64];
    const sent = sizes.map((n, i) => filled(n, i));
    for (let i = 0; i < sent.length; i++) await link.send(FileChunk, chunk(i, sent[i]));
    await link.flush();
    await waitUntil(() => received.length === sent.length, 10_000, 'all messages');
    received.forEach((m, i) => {
      const v = m.value as ReturnType<typeof chunk>;
      expect(v.sequence).toBe(i);
      expect(v.data.length).toBe(sizes[i]);
      expect(sha(v.data)).toBe(sha(sent[i]!));
    });
    expect(link.stats().bytesOut).toBeGreaterThan(sizes.reduce((a, b) => a + b, 0));
  }, 30_000);
});

describe('gather writes and retransmission', () => {
  it.each(['rust', 'swift', 'universal'] as WireId[])(
    '%s: an array changed after send is retransmitted with a checksum that matches it',
    async (wire) => {
      const { link, received, proxy: p } = await pair(wire);
      await link.send(FileChunk, chunk(0, filled(10, 1)));
      await waitUntil(() => received.length === 1, 5000, 'the first message');
      p.blackhole(); // written to the proxy, never forwarded: the message stays unacknowledged
      const data = filled(GATHER_MIN_BYTES * 4, 2);
      const before = sha(data);
      await link.send(FileChunk, chunk(1, data));
      await new Promise((r) => setTimeout(r, 50));
      data[12345] = data[12345]! ^ 0xff; // the owner breaks the lifetime rule
      const after = sha(data);
      const errors: unknown[] = [];
      link.on('disconnect', (e) => errors.push(e));
      const reconnected = nextEvent(link, 'reconnect', 10_000);
      p.cut();
      await reconnected;
      await link.flush();
      await waitUntil(() => received.length === 2, 10_000, 'the retransmitted message');
      const v = received[1]!.value as ReturnType<typeof chunk>;
      expect(sha(v.data)).toBe(after);
      expect(after).not.toBe(before);
      // Only the cut itself dropped the connection: no E_CHECKSUM from the peer after the reconnect.
      expect(errors).toHaveLength(1);
    },
    30_000,
  );
});
