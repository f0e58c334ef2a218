// The sender keeps unacknowledged frames in a ring that doubles when full and shrinks back once a large
// one is empty. A receiver that stops reading lets tens of thousands of frames pile up unacknowledged:
// they must all arrive, in order and exactly once, when it reads again, and so must what is sent after
// the ring shrank. Real sockets.
import type { DecodedMessage } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { chunk, FileChunk, tcpPair, waitUntil } from './test-support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('retained-frame ring', () => {
  it('grows under a stalled reader, delivers everything once it reads, and keeps order after shrinking', async () => {
    const N = 40_000;
    const received: number[] = [];
    // No 'message' listener yet: the link's inbox fills and it stops reading the socket.
    const pair = await tcpPair({}, { sendQueue: { maxMessages: 65_536 } });
    cleanups.push(pair.close);
    const { link } = pair;
    const data = new Uint8Array(40).fill(7);
    for (let i = 0; i < N; i++) expect(link.trySend(FileChunk, chunk(i, data))).toBe(true);
    await waitUntil(() => pair.accepted() !== undefined, 5000, 'the server link');
    await new Promise((r) => setTimeout(r, 200));
    // Most of them are still unacknowledged: the reader stalled with its inbox full.
    const piled = link.stats().queuedMessages;
    expect(piled).toBeGreaterThan(16_384);
    pair
      .accepted()!
      .on('message', (m: DecodedMessage) => received.push((m.value as { sequence: number }).sequence));
    await link.flush();
    expect(link.stats().queuedMessages).toBe(0);
    for (let i = N; i < N + 3000; i++) await link.send(FileChunk, chunk(i, data));
    await link.flush();
    await waitUntil(() => received.length >= N + 3000, 10_000, 'every message');
    expect(received).toEqual([...Array(N + 3000).keys()]);
  }, 30_000);
});
