import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, sampleMessages } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type TmeshNode } from './node.js';

// Two real nodes in one process on "different machines" (distinct machine ids: a TCP link). When the
// node's optimizer decides the link is slow, the manager applies its choice ('best') to the open link:
// the link compresses with zstd from then on, the monitor records under `rust+zstd`, and the receiver
// gets every byte.

const types = [sampleMessages.FileChunk, sampleMessages.Metrics];

function text(size: number, seed: number): Buffer {
  const parts: string[] = [];
  for (let i = 0, n = 0; n < size; i++) {
    const line = `${seed}:${i} GET /api/v1/items/${(i * 7919 + seed) % 1000} 200 ${(i * 31) % 977}ms\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

describe('the manager applies the optimizer compression to an open link', () => {
  const nodes: TmeshNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0).reverse()) await n.close();
  });

  it.each([
    ['best', undefined, 'zstd'],
    ['fast', 'fast', 'lz4'],
    ['deflate', 'deflate', 'deflate'],
  ] as const)(
    "'%s' on a slow link: the link compresses with it from then on, recorded under its label, every byte delivered",
    async (choice, option, algorithm) => {
      const dir = mkdtempSync(join(tmpdir(), 'tmesh-capply-'));
      const start = async (id: string) => {
        const node = await createNode({
          id,
          types,
          machineId: `machine-${id}-${process.pid}`,
          discovery: { runtimeDir: dir },
          transport: { unix: false },
          ...(option ? { optimizer: { compression: option } } : {}),
        });
        nodes.push(node);
        return node;
      };
      const receiver = await start('c-recv');
      const got: number[] = [];
      receiver.on(sampleMessages.FileChunk, (m) => {
        got.push(crc32(m.value.data));
      });
      const sender = await start('c-send');
      const sent: number[] = [];
      const send = async (i: number) => {
        const data = text(60_000, i);
        sent.push(crc32(data));
        await sender.send('c-recv', sampleMessages.FileChunk, {
          path: `f${i}`,
          offset: 0n,
          sequence: i,
          last: false,
          data,
        });
      };
      await send(0);
      expect(sender.peers().find((p) => p.info.id === 'c-recv')).toMatchObject({
        route: 'tcp',
        strategy: 'rust',
      });

      // What the monitor would report on a 1 MB/s link with compressible payloads, three times (the
      // optimizer's confirmations): it emits 'best', and the node applies it to the open link.
      for (let i = 0; i < 3; i++) {
        sender.optimizer.update(
          'c-recv',
          { bandwidthBytesPerSec: 1e6, compressionRatio: 0.2 },
          { sameMachine: false },
        );
      }
      expect(sender.optimizer.configFor('c-recv').compression).toBe(choice);
      for (let i = 1; i <= 5; i++) await send(i);
      const deadline = Date.now() + 5000;
      while (got.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(got).toEqual(sent);
      const labels = sender.monitor.report().streams.filter((s) => s.peer === 'c-recv');
      expect(labels.map((s) => [s.strategy, s.messages])).toEqual(
        expect.arrayContaining([
          ['rust', 1],
          [`rust+${algorithm}`, 5],
        ]),
      );
      // The wire bytes the monitor saw for the compressed messages are a fraction of the payloads.
      const compressed = labels.find((s) => s.strategy === `rust+${algorithm}`)!;
      expect(compressed.bytes).toBeLessThan(5 * 60_000 * 0.5);
    },
    30_000,
  );
});
