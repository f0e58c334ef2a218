import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AdaptiveOptimizer, TransportMonitor } from '@tmesh/monitor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsPair, netnsSkipReason } from '../../../test-support/netns.js';

// Real @tmesh/net links between two network namespaces joined by a veth pair, the sender's side shaped to
// 10 Mbit/s with tc tbf. Uncompressed transfers feed the monitor; the optimizer sees a slow link with
// compressible payloads and asks for 'best' compression; the link resolves that to zstd (both ends have
// the native addon), 'fast' to lz4; each is measured against the uncompressed goodput, and the receiver's
// count and CRC-32 prove every byte arrived.

const SHAPED_RATE_BYTES_PER_SEC = 10e6 / 8;
const FIXTURE = fileURLToPath(new URL('./fixtures/compression-link.ts', import.meta.url));

const skipReason = netnsSkipReason(['ip', 'tc']);
if (skipReason) {
  if (process.env.CI) throw new Error(`compression netns test cannot run in CI: ${skipReason}`);
  console.warn(`compression netns test skipped: ${skipReason}`);
}

// The sender runs in namespace a, whose end is shaped (a -> b); the receiver in b.
const pair = new NetnsPair('cz', { prefixLength: 24 });

interface Transfer {
  type: 'transfer';
  phase: string;
  algorithm: string;
  payloadBytes: number;
  wireBytes: number;
  durationNs: number;
  probeCompressedBytes: number;
}
interface Done {
  type: 'done';
  phase: string;
  algorithm: string;
  payloadBytes: number;
  wireBytes: number;
  totalNs: number;
}
interface Report {
  type: 'report';
  count: number;
  bytes: number;
  crc: number;
  expectedCrc: number;
  expectedCount: number;
}
type Line = Transfer | Done | Report;

describe.skipIf(skipReason !== undefined)(
  'compression on a tbf-shaped link between network namespaces',
  () => {
    let receiver: ChildProcess | undefined;
    let port = 0;

    beforeAll(async () => {
      pair.setup();
      pair.shape('10mbit', '32kbit', '400ms');
      const args = JSON.stringify({ role: 'receiver', host: pair.ipB });
      const started = await pair.start(
        pair.b,
        process.execPath,
        ['--import', 'tsx', FIXTURE, args],
        /"ready":(\d+)/,
        20_000,
      );
      receiver = started.proc;
      port = Number(started.match[1]);
    }, 40_000);

    afterAll(() => {
      receiver?.kill('SIGKILL');
      for (const failure of pair.dispose()) console.warn(failure);
    });

    async function send(phases: { compression: string; count: number; size: number }[]): Promise<Line[]> {
      const args = JSON.stringify({ role: 'sender', host: pair.ipB, port, phases });
      const out = await pair.run(pair.a, process.execPath, ['--import', 'tsx', FIXTURE, args], 60_000);
      return out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Line);
    }

    it("the optimizer asks for 'best' on the slow link; zstd (and lz4 for 'fast') raise goodput; every byte arrives", async () => {
      const monitor = new TransportMonitor();
      const optimizer = new AdaptiveOptimizer({ hysteresis: { minHoldMs: 0 } });
      const peer = 'receiver-shaped';
      const size = 256 * 1024;
      try {
        // 1. Compression off: what the monitor measures on the shaped link.
        const plain = await send([{ compression: 'off', count: 8, size }]);
        const recorder = monitor.recorder(peer, { kind: 'rust', compression: 'none' });
        for (const line of plain) {
          if (line.type !== 'transfer') continue;
          expect(line.algorithm).toBe('none');
          recorder.record(line.wireBytes, line.durationNs);
          monitor.recordCompressionSample(peer, line.payloadBytes, line.probeCompressedBytes);
          optimizer.update(peer, monitor.linkCondition(peer));
        }
        const condition = monitor.linkCondition(peer);
        expect(condition.bandwidthBytesPerSec).toBeLessThan(SHAPED_RATE_BYTES_PER_SEC * 1.3);
        expect(condition.compressionRatio).toBeLessThan(0.5);
        const chosen = optimizer.configFor(peer).compression;
        expect(chosen).toBe('best');

        // 2. What the optimizer chose, then 'fast' and plain deflate for comparison, on one link.
        const lines = await send([
          { compression: chosen, count: 8, size },
          { compression: 'fast', count: 8, size },
          { compression: 'deflate', count: 8, size },
        ]);
        const done = (phase: string) =>
          [...plain, ...lines].find((l): l is Done => l.type === 'done' && l.phase === phase)!;
        const goodput = (d: Done) => d.payloadBytes / (d.totalNs / 1e9);
        const off = done('off');
        const best = done('best');
        const fast = done('fast');
        const deflate = done('deflate');
        expect(best.algorithm).toBe('zstd');
        expect(fast.algorithm).toBe('lz4');
        expect(deflate.algorithm).toBe('deflate');
        const row = (d: Done) =>
          `${d.phase.padEnd(8)} ${d.algorithm.padEnd(8)} wire ${(d.wireBytes / 1024).toFixed(0).padStart(5)} KiB  goodput ${(goodput(d) / 1e6).toFixed(3)} MB/s  x${(goodput(d) / goodput(off)).toFixed(2)}`;
        console.log(
          `10 Mbit/s tbf link, 8 x 256 KiB log text per row:\n${[off, best, fast, deflate].map(row).join('\n')}`,
        );
        expect(goodput(off)).toBeLessThan(SHAPED_RATE_BYTES_PER_SEC * 1.05);
        expect(goodput(best)).toBeGreaterThan(goodput(off) * 2);
        expect(goodput(fast)).toBeGreaterThan(goodput(off) * 1.5);
        expect(best.wireBytes).toBeLessThan(fast.wireBytes);

        // 3. The receiver got every chunk intact.
        const report = lines.find((l): l is Report => l.type === 'report')!;
        expect(report.count).toBe(report.expectedCount);
        expect(report.crc).toBe(report.expectedCrc);
      } finally {
        monitor.close();
      }
    }, 120_000);
  },
);
