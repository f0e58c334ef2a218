import { randomBytes } from 'node:crypto';
import { type CompressionAlgorithm, crc32, sampleMessages } from '@tmesh/core';
import type { SelectionPolicy } from '@tmesh/selector';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { managerControl } from './control.js';
import { buildRustPeer, hasCargo, killRustPeers, startRustPeer } from './fixtures/rust-peer.js';
import { requestReport, sendChunks } from './fixtures/traffic.js';
import { createNode, type TmeshNode } from './node.js';

// zstd, lz4 and deflate between a TypeScript node and the Rust peer (examples/rust-peer), which
// implements docs/PROTOCOL.md section 7.9 on its own with the `zstd`, `lz4_flex` and `flate2` crates:
// the TypeScript side compresses FileChunks and an Echo, the peer decompresses, counts (count, bytes,
// CRC-32 of the data) and answers the Echo compressed with the same algorithm, which the TypeScript side
// reads. The peer's report counts the compressed frames it received and sent per algorithm.

if (!hasCargo) console.warn('rust-peer compression tests skipped: cargo is not installed');

const types = [sampleMessages.FileChunk, sampleMessages.Metrics];
const MACHINE = `rpc-machine-${process.pid}`;
const startPeer = (id: string, args: string[] = []) => startRustPeer(id, ['--machine-id', MACHINE, ...args]);

/** Log-like text (compresses about 4-6x), different per seed. */
function text(size: number, seed: number): Buffer {
  let s = seed >>> 0 || 1;
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    s = (s * 1103515245 + 12345) >>> 0;
    const line = `{"seq":${s % 100000},"node":"node-${s % 16}","path":"/srv/data/file-${s % 5000}.bin","ok":${s % 7 !== 0}}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

async function report(node: TmeshNode, peer: string): Promise<Record<string, number>> {
  return (await requestReport(node, peer)).counters;
}

const WIRES: [string, SelectionPolicy][] = [
  ['rust', { disableShm: true }],
  ['universal', { force: 'universal' }],
];
const ALGORITHMS: CompressionAlgorithm[] = ['zstd', 'lz4', 'deflate'];

describe.skipIf(!hasCargo)('compression between TypeScript and the Rust peer', () => {
  const open: TmeshNode[] = [];
  let n = 0;

  beforeAll(buildRustPeer, 610_000);

  afterEach(async () => {
    for (const node of open.splice(0)) await node.close();
  });
  afterAll(killRustPeers);

  async function node(policy: SelectionPolicy, compression: CompressionAlgorithm[], dir: string) {
    const created = await createNode({
      id: `ts-rpc-${process.pid}-${++n}`,
      types,
      machineId: MACHINE,
      discovery: { runtimeDir: dir },
      transport: { unix: false, compression },
      policy,
    });
    open.push(created);
    return created;
  }

  for (const [wire, policy] of WIRES) {
    for (const algorithm of ALGORITHMS) {
      it(`${wire} wire, ${algorithm}: the peer reads every compressed message and answers in kind`, async () => {
        const peer = await startPeer(`rust-c-${wire}-${algorithm}`);
        const ts = await node(policy, [algorithm], peer.dir);
        let compressible = 0;
        const sent = await sendChunks(ts, peer.id, 40, (i) => {
          // Mostly compressible text above the 4096-byte threshold, some random bytes and small ones.
          if (i % 8 < 6) compressible++;
          return i % 8 === 7
            ? randomBytes(20_000)
            : i % 8 === 6
              ? text(500, i + 1)
              : text(5000 + ((i * 7919) % 60_000), i + 1);
        });
        expect(ts.peers().find((p) => p.info.id === peer.id)).toMatchObject({ route: 'tcp', strategy: wire });

        const echoed = text(100_000, 99);
        const echo = await ts.request(peer.id, managerControl.Echo, { payload: echoed });
        expect(crc32((echo.value as { payload: Uint8Array }).payload)).toBe(crc32(echoed));

        const counters = await report(ts, peer.id);
        expect({ count: counters.count, bytes: counters.bytes, crc: counters.crc }).toEqual(sent);
        // Every compressible FileChunk and the Echo came compressed; the Echo's answer went back so.
        expect(counters[`${algorithm}.in`]).toBe(compressible + 1);
        expect(counters[`${algorithm}.out`]).toBe(1);
        for (const other of ALGORITHMS.filter((a) => a !== algorithm)) {
          expect(counters[`${other}.in`]).toBe(0);
          expect(counters[`${other}.out`]).toBe(0);
        }
        expect(peer.log).not.toContain('E_');
      }, 60_000);
    }
  }

  it('agrees on what both offer: a peer with deflate only gets deflate, one with none gets plain frames', async () => {
    const deflateOnly = await startPeer('rust-c-deflate-only', ['--compression', 'deflate']);
    const ts = await node({ disableShm: true }, ['zstd', 'lz4', 'deflate'], deflateOnly.dir);
    const data = text(50_000, 7);
    await ts.send(deflateOnly.id, sampleMessages.FileChunk, {
      path: 'a',
      offset: 0n,
      sequence: 0,
      last: true,
      data,
    });
    let counters = await report(ts, deflateOnly.id);
    expect(counters.crc).toBe(crc32(data));
    expect([counters['deflate.in'], counters['zstd.in'], counters['lz4.in']]).toEqual([1, 0, 0]);

    const none = await startPeer('rust-c-none', ['--compression', 'none']);
    const ts2 = await node({ disableShm: true }, ['zstd', 'deflate'], none.dir);
    await ts2.send(none.id, sampleMessages.FileChunk, {
      path: 'b',
      offset: 0n,
      sequence: 0,
      last: true,
      data,
    });
    counters = await report(ts2, none.id);
    expect(counters.crc).toBe(crc32(data));
    expect(counters['deflate.in']! + counters['zstd.in']! + counters['lz4.in']!).toBe(0);
  }, 60_000);
});
