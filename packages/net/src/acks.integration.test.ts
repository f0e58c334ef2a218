// When acks leave: with the data of the next write, so request/response traffic needs no ack timer (a
// timer re-armed every few messages slowed ~10 % of round trips on this VM), and after ACK_DELAY_MS on
// their own when the receiver sends nothing. Real sockets, every wire.
import type { WireId } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { chunk, FileChunk, tcpPair, waitUntil } from './test-support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.each(['rust', 'swift', 'universal'] as WireId[])('acks on the %s wire', (wire) => {
  it('ride with every response and every request: nothing stays unacknowledged between round trips', async () => {
    const pair = await tcpPair({}, { wires: [wire] });
    cleanups.push(pair.close);
    const { link } = pair;
    await waitUntil(() => pair.accepted() !== undefined, 5000, 'the server link');
    const server = pair.accepted()!;
    // What the responder still holds unacknowledged when a request comes in: at most its previous
    // response, whose ack follows the request in the same write.
    let worst = 0;
    server.onRequest((m) => {
      worst = Math.max(worst, server.stats().queuedMessages);
      return { type: FileChunk, value: m.value as ReturnType<typeof chunk> };
    });
    const data = new Uint8Array(64).fill(3);
    for (let i = 0; i < 200; i++) {
      const reply = await link.request(FileChunk, chunk(i, data));
      expect((reply.value as { sequence: number }).sequence).toBe(i);
      // The response carried the ack of this request.
      expect(link.stats().queuedMessages).toBe(0);
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('leave on their own within the ack delay when the receiver sends nothing', async () => {
    const pair = await tcpPair({}, { wires: [wire] });
    cleanups.push(pair.close);
    const { link } = pair;
    await waitUntil(() => pair.accepted() !== undefined, 5000, 'the server link');
    let got = 0;
    pair.accepted()!.on('message', () => got++);
    for (let i = 0; i < 5; i++) await link.send(FileChunk, chunk(i));
    expect(link.stats().queuedMessages).toBeGreaterThan(0);
    const t0 = performance.now();
    await link.flush();
    expect(got).toBe(5);
    expect(link.stats().queuedMessages).toBe(0);
    // ACK_DELAY_MS is 20; the bound leaves room for a loaded CI machine.
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
