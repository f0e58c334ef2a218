import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, defineMessage, t } from '@tmesh/core';
import { isAvailable } from '@tmesh/shm-native';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type TmeshNode } from './node.js';

// Large messages over shared memory are decoded without a second copy: their bytes fields view the
// Buffer the addon filled for that message alone. Every message a handler kept must stay intact while
// later ones arrive (no buffer of one message is reused for another).
const Chunk = defineMessage('shm.Chunk', 1, t.struct('Chunk', { n: t.u32(), data: t.bytes() }));

describe.skipIf(!isAvailable().available)('large messages over shm', () => {
  const nodes: TmeshNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0).reverse()) await n.close();
  });

  it('keeps every received payload intact (sizes around the 64 KiB own-buffer threshold)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-shm-large-'));
    const receiver = await createNode({ id: 'rx', types: [Chunk], discovery: { runtimeDir: dir } });
    nodes.push(receiver);
    const sender = await createNode({ id: 'tx', types: [Chunk], discovery: { runtimeDir: dir } });
    nodes.push(sender);
    const kept: { n: number; data: Uint8Array }[] = [];
    const routes = new Set<string>();
    receiver.on(Chunk, (m) => {
      kept.push(m.value);
      routes.add(m.via.route);
    });
    const sizes = [100, 65_000, 65_536, 70_000, 200_000, 1 << 20, 3, 64 * 1024 - 10];
    const sums: number[] = [];
    for (let i = 0; i < 40; i++) {
      const size = sizes[i % sizes.length]!;
      const data = new Uint8Array(size).map((_, j) => (i * 31 + j * 7) & 0xff);
      sums.push(crc32(data));
      await sender.send('rx', Chunk, { n: i, data });
    }
    const deadline = Date.now() + 10_000;
    while (kept.length < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect([...routes]).toEqual(['shm']);
    expect(kept.map((k) => k.n)).toEqual(sums.map((_, i) => i));
    expect(kept.map((k) => crc32(k.data))).toEqual(sums);
  }, 30_000);
});
