// The link's send path: small frames go through 64 KiB send blocks, header timestamps come from a clock
// read once per burst, requests and one-way messages share blocks. Real sockets, both wires.
import type { DecodedMessage, WireId } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { chunk, FileChunk, tcpPair, waitUntil } from './test-support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function pair(wire: WireId) {
  const received: DecodedMessage[] = [];
  const p = await tcpPair(
    {
      onLink: (l) => {
        l.on('message', (m) => received.push(m));
        l.onRequest((m) => ({ type: FileChunk, value: { ...(m.value as object), last: true } }));
      },
    },
    { wires: [wire] },
  );
  cleanups.push(p.close);
  return { link: p.link, received };
}

describe.each(['rust', 'swift', 'universal'] as WireId[])('send path (%s)', (wire) => {
  it('stamps frames with the current time, also across bursts separated by pauses', async () => {
    const { link, received } = await pair(wire);
    const windows: [number, number][] = [];
    for (let burst = 0; burst < 4; burst++) {
      const before = Date.now();
      for (let i = 0; i < 200; i++) link.trySend(FileChunk, chunk(burst * 200 + i));
      windows.push([before, Date.now()]);
      await new Promise((r) => setTimeout(r, 15));
    }
    await link.flush();
    await waitUntil(() => received.length === 800, 5000, 'all messages');
    received.forEach((m, i) => {
      const [lo, hi] = windows[Math.floor(i / 200)]!;
      expect(m.header.timestamp).toBeGreaterThanOrEqual(lo);
      expect(m.header.timestamp).toBeLessThanOrEqual(hi);
    });
  });

  it('interleaves one-way messages of every size with requests, in order, byte for byte', async () => {
    const { link, received } = await pair(wire);
    const sizes = [0, 1, 60, 100, 4000, 16_000, 17_000, 70_000, 30];
    const replies: Promise<DecodedMessage>[] = [];
    for (let i = 0; i < 3000; i++) {
      const n = sizes[i % sizes.length]!;
      const data = new Uint8Array(n).fill(i & 0xff);
      if (i % 7 === 3) replies.push(link.request(FileChunk, chunk(i, data)));
      else await link.send(FileChunk, chunk(i, data));
    }
    const answered = await Promise.all(replies);
    answered.forEach((m) => {
      const v = m.value as ReturnType<typeof chunk>;
      expect(v.last).toBe(true);
      expect(v.data.length).toBe(sizes[v.sequence % sizes.length]);
      expect(v.data.every((b) => b === (v.sequence & 0xff))).toBe(true);
    });
    await link.flush();
    await waitUntil(() => received.length === 3000 - replies.length, 10_000, 'one-way messages');
    let last = -1;
    for (const m of received) {
      const v = m.value as ReturnType<typeof chunk>;
      expect(v.sequence).toBeGreaterThan(last);
      last = v.sequence;
      expect(v.data.length).toBe(sizes[v.sequence % sizes.length]);
      expect(v.data.every((b) => b === (v.sequence & 0xff))).toBe(true);
    }
    expect(link.stats().queuedMessages).toBe(0);
    expect(link.stats().queuedBytes).toBe(0);
  }, 30_000);

  it('times requests out by their own deadlines (one sweep timer), a shorter one sent later first', async () => {
    const p = await tcpPair(
      {
        onLink: (l) =>
          l.onRequest((m) => {
            const v = m.value as ReturnType<typeof chunk>;
            // Sequence 0 is answered; the others never are.
            if (v.sequence === 0) return { type: FileChunk, value: v };
            return new Promise(() => {});
          }),
      },
      { wires: [wire] },
    );
    cleanups.push(p.close);
    const { link } = p;
    const t0 = performance.now();
    const settledAt: Record<string, number> = {};
    const codes: Record<string, string> = {};
    const track = (name: string, p: Promise<unknown>) =>
      p.then(
        () => {
          settledAt[name] = -1;
        },
        (e: { code: string }) => {
          codes[name] = e.code;
          settledAt[name] = performance.now() - t0;
        },
      );
    const all = [
      track('long', link.request(FileChunk, chunk(1), { timeoutMs: 400 })),
      track('short', link.request(FileChunk, chunk(2), { timeoutMs: 60 })),
      track('answered', link.request(FileChunk, chunk(0), { timeoutMs: 100 })),
      track('none', link.request(FileChunk, chunk(3), { timeoutMs: Number.POSITIVE_INFINITY })),
    ];
    await Promise.all(all.slice(0, 3));
    expect(settledAt.answered).toBe(-1);
    expect(codes).toEqual({ short: 'E_TIMEOUT', long: 'E_TIMEOUT' });
    expect(settledAt.short).toBeGreaterThanOrEqual(59);
    expect(settledAt.long).toBeGreaterThanOrEqual(399);
    expect(settledAt.short).toBeLessThan(settledAt.long!);
    expect(settledAt.none).toBeUndefined(); // no deadline: still pending until the link closes
  });

  it('hands received bytes fields out as views into the received bytes, not copies', async () => {
    const { link, received } = await pair(wire);
    const small = new Uint8Array(100).fill(7);
    const big = new Uint8Array(300_000).fill(9); // spans socket reads: assembled once, then viewed
    await link.send(FileChunk, chunk(1, small));
    await link.send(FileChunk, chunk(2, big));
    await link.flush();
    await waitUntil(() => received.length === 2, 5000, 'both messages');
    for (const [i, m] of received.entries()) {
      const data = (m.value as ReturnType<typeof chunk>).data;
      expect(data.length).toBe(i === 0 ? 100 : 300_000);
      // A view: it starts after the frame header and the fields before it in the same buffer.
      expect(data.byteOffset).toBeGreaterThan(0);
      expect(data.buffer.byteLength).toBeGreaterThan(data.length);
    }
  });
});
