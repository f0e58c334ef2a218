import { afterEach, describe, expect, it } from 'vitest';
import type { Link } from './index.js';
import { chunk, FileChunk, tcpPair, waitUntil } from './test-support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function pair(clientOpts: Record<string, unknown> = {}, onLink: (l: Link) => void = () => {}) {
  const p = await tcpPair({ heartbeatMs: 1000, onLink }, { heartbeatMs: 1000, ...clientOpts });
  cleanups.push(p.close);
  return { server: p.server, link: p.link };
}

describe('load', () => {
  it('10k concurrent requests each get their own response', async () => {
    const { link } = await pair({}, (l) =>
      l.onRequest(async (m) => {
        await new Promise((r) => setImmediate(r));
        const v = m.value as ReturnType<typeof chunk>;
        return { type: FileChunk, value: { ...v, path: `answer-${v.sequence}` } };
      }),
    );
    const started = Date.now();
    const replies = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => link.request(FileChunk, chunk(i), { timeoutMs: 30_000 })),
    );
    const elapsed = Date.now() - started;
    for (const [i, r] of replies.entries())
      expect(r.value).toMatchObject({ sequence: i, path: `answer-${i}` });
    expect(elapsed).toBeLessThan(20_000);
    expect(link.stats().queuedMessages).toBe(0);
  }, 40_000);

  it('a stalled reader bounds the sender: the queue stops at its limits, memory stays flat, then all arrive', async () => {
    let serverLink: Link | undefined;
    const maxBytes = 4 * 1024 * 1024;
    const { link } = await pair({ sendQueue: { maxBytes, maxMessages: 100_000 } }, (l) => {
      serverLink = l;
    });
    await waitUntil(() => serverLink !== undefined, 5000, 'server link');
    const stalled = serverLink!.messages(); // nobody calls next() yet
    const data = new Uint8Array(64 * 1024).fill(7);
    const before = process.memoryUsage();
    let accepted = 0;
    let maxQueued = 0;
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      if (link.trySend(FileChunk, chunk(accepted, data))) accepted++;
      else await new Promise((r) => setTimeout(r, 1));
      maxQueued = Math.max(maxQueued, link.stats().queuedBytes);
    }
    // send() now waits for space and gives up at its timeout.
    await expect(link.send(FileChunk, chunk(-1 >>> 0, data), { timeoutMs: 200 })).rejects.toMatchObject({
      code: 'E_TIMEOUT',
    });
    const after = process.memoryUsage();
    const grew = after.arrayBuffers + after.heapUsed - (before.arrayBuffers + before.heapUsed);
    // Accepted = send queue + socket buffers + the reader's bounded inbox (16 MiB high-water mark).
    expect(maxQueued).toBeLessThanOrEqual(maxBytes + data.length + 100);
    expect(accepted * data.length).toBeLessThan(64 * 1024 * 1024);
    expect(grew).toBeLessThan(96 * 1024 * 1024);
    // The reader wakes up: everything accepted arrives, in order, and the queue drains.
    for (let i = 0; i < accepted; i++) {
      const { value } = await stalled.next();
      expect((value!.value as { sequence: number }).sequence).toBe(i);
    }
    await link.flush();
    expect(link.stats().queuedBytes).toBe(0);
  }, 30_000);
});
