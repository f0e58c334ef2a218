// Frames encoded straight into the link's 64 KiB send blocks: messages of many fields that outgrow a block
// (or the room left in one) fall back to their own arrays, in order; a send from a getter of a value being
// encoded is refused. Real sockets.
import { type DecodedMessage, isTmeshError, sampleMessages, type WireId } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { chunk, FileChunk, tcpPair, waitUntil } from './test-support.js';

const Metrics = sampleMessages.Metrics;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function pair(wire: WireId) {
  const received: DecodedMessage[] = [];
  const p = await tcpPair({ onLink: (l) => l.on('message', (m) => received.push(m)) }, { wires: [wire] });
  cleanups.push(p.close);
  return { link: p.link, received };
}

/** A Metrics value numbered i with n counters (about 20 bytes each on the wire). */
function metrics(i: number, n: number) {
  const counters = new Map<string, bigint>();
  for (let k = 0; k < n; k++) counters.set(`counter-${i}-${k}`, BigInt(i * 100_000 + k));
  return { node: `n${i}`, at: BigInt(i), throughput: i / 3, latencyMicros: -i, counters };
}

describe.each(['rust', 'swift'] as WireId[])('send blocks (%s)', (wire) => {
  it('sends many-field messages smaller than, near and above a block among small ones, in order', async () => {
    const { link, received } = await pair(wire);
    // Counter counts: a small frame, ~20 KiB (above the 16 KiB inline limit), ~60 KiB (near a block),
    // ~100 KiB (more than a block), then small again: each size after each other size.
    const sizes = [3, 1000, 3000, 5000, 0, 1000, 1000, 5000, 5000, 3, 3000, 3000];
    const sent: unknown[] = [];
    for (let i = 0; i < 120; i++) {
      const n = sizes[i % sizes.length]!;
      if (i % 3 === 1) {
        const v = chunk(i, new Uint8Array(i % 50).fill(i));
        sent.push(v);
        await link.send(FileChunk, v);
      } else {
        const v = metrics(i, n);
        sent.push(v);
        await link.send(Metrics, v);
      }
    }
    await link.flush();
    await waitUntil(() => received.length === sent.length, 10_000, 'every message');
    received.forEach((m, i) => {
      expect(m.type).toBe(i % 3 === 1 ? FileChunk : Metrics);
      const v = m.value as { data?: Uint8Array };
      // Bytes fields arrive as views of the received chunk (a Buffer) or of a frame assembled across
      // chunks (a Uint8Array): compare the bytes.
      expect(v.data === undefined ? v : { ...v, data: Uint8Array.from(v.data) }).toEqual(sent[i]);
    });
    expect(link.stats().queuedBytes).toBe(0);
  }, 30_000);
});

describe.each(['rust', 'swift', 'universal'] as WireId[])('sends from getters (%s)', (wire) => {
  it('refuses a send from a getter of a value being encoded, and keeps working', async () => {
    const { link, received } = await pair(wire);
    link.trySend(FileChunk, chunk(0));
    const nested = {
      ...chunk(1),
      get path(): string {
        link.trySend(FileChunk, chunk(99));
        return 'never';
      },
    };
    let error: unknown;
    try {
      link.trySend(FileChunk, nested);
    } catch (e) {
      error = e;
    }
    expect(isTmeshError(error, 'E_INVALID_ARGUMENT')).toBe(true);
    for (let i = 2; i < 300; i++) link.trySend(FileChunk, chunk(i, new Uint8Array(64).fill(i)));
    await link.flush();
    await waitUntil(() => received.length === 299, 5000, 'the messages around the refused one');
    expect(received.map((m) => (m.value as { sequence: number }).sequence)).toEqual([
      0,
      ...Array.from({ length: 298 }, (_, i) => i + 2),
    ]);
    expect(link.stats().messagesOut).toBe(299);
  });
});
