import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsPair, netnsSkipReason } from '../../../test-support/netns.js';
import { TransportMonitor } from './monitor.js';
import type { ConfigChange } from './optimizer.js';
import { AdaptiveOptimizer } from './optimizer.js';
import { renderTable } from './report.js';

// Two network namespaces joined by a veth pair; the sender's side is shaped to 10 Mbit/s with tbf (this
// kernel has tbf and htb but no netem). A real TCP sender and receiver run in them as child processes;
// their measured transfers feed the monitor, whose link condition feeds the optimizer.

const SHAPED_RATE_BYTES_PER_SEC = 10e6 / 8;
const RECEIVER = fileURLToPath(new URL('./netns/receiver.mjs', import.meta.url));
const SENDER = fileURLToPath(new URL('./netns/sender.mjs', import.meta.url));

const skipReason = netnsSkipReason(['ip', 'tc']);
if (skipReason) console.warn(`netns integration test skipped: ${skipReason}`);

// The sender runs in namespace a, the receiver in b; shaping applies to a's end (a -> b).
const pair = new NetnsPair('mon', { prefixLength: 24 });

interface Ping {
  type: 'ping';
  rttMs: number;
}
interface Transfer {
  type: 'transfer';
  wireBytes: number;
  payloadBytes: number;
  durationNs: number;
  probeCompressedBytes: number;
}
interface Done {
  type: 'done';
  payloadBytes: number;
  wireBytes: number;
  totalNs: number;
}
type SenderLine = Ping | Transfer | Done;

interface SendOptions {
  count: number;
  size: number;
  compression: 'none' | 'deflate';
  level: number;
  pings: number;
  payload: 'text' | 'random';
}

describe.skipIf(skipReason !== undefined)(
  'netns integration: monitor + optimizer on a tbf-shaped veth link',
  () => {
    let receiver: ChildProcess | undefined;
    let port = 0;

    beforeAll(async () => {
      pair.setup();
      const started = await pair.start(pair.b, process.execPath, [RECEIVER, '0'], /ready (\d+)/, 10_000);
      receiver = started.proc;
      port = Number(started.match[1]);
    }, 30_000);

    afterAll(() => {
      receiver?.kill('SIGKILL');
      for (const failure of pair.dispose()) console.warn(failure);
    });

    function shape(on: boolean): void {
      if (on) pair.shape('10mbit', '32kbit', '400ms');
      else pair.unshape();
    }

    async function send(options: SendOptions): Promise<SenderLine[]> {
      const args = JSON.stringify({ host: pair.ipB, port, ...options });
      const out = await pair.run(pair.a, process.execPath, [SENDER, args], 30_000);
      return out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as SenderLine);
    }

    /** Feeds the sender's measurements into the monitor and, after each transfer, the optimizer. */
    function feed(
      monitor: TransportMonitor,
      optimizer: AdaptiveOptimizer,
      peer: string,
      lines: SenderLine[],
      strategy: 'rust' | 'rust+deflate',
    ): Done {
      const recorder = monitor.recorder(
        peer,
        strategy === 'rust'
          ? { kind: 'rust', compression: 'none' }
          : { kind: 'rust', compression: 'deflate' },
      );
      let done: Done | undefined;
      for (const line of lines) {
        if (line.type === 'ping') monitor.recordHeartbeat(peer, line.rttMs);
        else if (line.type === 'transfer') {
          recorder.record(line.wireBytes, line.durationNs);
          monitor.recordCompressionSample(peer, line.payloadBytes, line.probeCompressedBytes);
          optimizer.update(peer, monitor.linkCondition(peer));
        } else done = line;
      }
      expect(done).toBeDefined();
      return done!;
    }

    it('estimates the shaped bandwidth, turns compression on, and compression raises goodput', async () => {
      const monitor = new TransportMonitor();
      const optimizer = new AdaptiveOptimizer({ hysteresis: { minHoldMs: 0 } });
      const changes: ConfigChange[] = [];
      optimizer.subscribe((change) => changes.push(change));
      try {
        shape(true);
        const peer = 'receiver-shaped';
        const size = 256 * 1024;
        // Compression off: 8 x 256 KiB of compressible text at 10 Mbit/s (about 1.7 s).
        const plain = feed(
          monitor,
          optimizer,
          peer,
          await send({ count: 8, size, compression: 'none', level: 6, pings: 5, payload: 'text' }),
          'rust',
        );
        const condition = monitor.linkCondition(peer);
        const estimate = condition.bandwidthBytesPerSec!;
        expect(Math.abs(estimate - SHAPED_RATE_BYTES_PER_SEC) / SHAPED_RATE_BYTES_PER_SEC).toBeLessThan(0.3);
        expect(condition.compressionRatio).toBeLessThan(0.5);
        expect(condition.rttMs).toBeGreaterThan(0);

        const config = optimizer.configFor(peer);
        // 'best': the link resolves it to zstd where both ends have it (the tmesh-link version of this test
        // is packages/manager/src/compression-netns.integration.test.ts); this raw sender uses deflate.
        expect(config.compression).toBe('best');
        expect(config.compressionLevel).toBe(6);
        expect(config.bufferSize).toBe(64 * 1024);
        expect(changes.map((c) => c.peer)).toEqual([peer]);
        expect(changes[0]!.reasons.some((r) => r.includes('-> best compression, deflate level 6'))).toBe(
          true,
        );

        // Compression on, with the optimizer's level: same payloads, measured the same way.
        const compressed = feed(
          monitor,
          optimizer,
          peer,
          await send({
            count: 8,
            size,
            compression: 'deflate',
            level: config.compressionLevel,
            pings: 0,
            payload: 'text',
          }),
          'rust+deflate',
        );
        const goodputOff = plain.payloadBytes / (plain.totalNs / 1e9);
        const goodputOn = compressed.payloadBytes / (compressed.totalNs / 1e9);
        console.log(
          `shaped 10 Mbit/s: bandwidth estimate ${(estimate / 1e6).toFixed(3)} MB/s, compression ratio ${condition.compressionRatio!.toFixed(3)}, ` +
            `goodput off ${(goodputOff / 1e6).toFixed(3)} MB/s, on ${(goodputOn / 1e6).toFixed(3)} MB/s (x${(goodputOn / goodputOff).toFixed(2)})`,
        );
        expect(goodputOff).toBeLessThan(SHAPED_RATE_BYTES_PER_SEC * 1.05);
        expect(goodputOn).toBeGreaterThan(goodputOff * 1.5);

        // Incompressible payloads on the same slow link: the optimizer leaves compression off.
        const randomPeer = 'receiver-shaped-random';
        feed(
          monitor,
          optimizer,
          randomPeer,
          await send({ count: 4, size, compression: 'none', level: 6, pings: 0, payload: 'random' }),
          'rust',
        );
        expect(monitor.linkCondition(randomPeer).compressionRatio).toBeGreaterThan(0.95);
        expect(optimizer.configFor(randomPeer).compression).toBe('none');

        // Unshaped veth: same compressible payloads, the link is fast, compression stays off.
        shape(false);
        const fastPeer = 'receiver-unshaped';
        feed(
          monitor,
          optimizer,
          fastPeer,
          await send({
            count: 16,
            size: 1024 * 1024,
            compression: 'none',
            level: 6,
            pings: 5,
            payload: 'text',
          }),
          'rust',
        );
        const fast = monitor.linkCondition(fastPeer);
        // Above the 10 MiB/s compression threshold plus its hysteresis band (measured: hundreds of MiB/s).
        expect(fast.bandwidthBytesPerSec).toBeGreaterThan(12 * 1024 * 1024);
        expect(fast.compressionRatio).toBeLessThan(0.5);
        expect(optimizer.configFor(fastPeer).compression).toBe('none');
        expect(changes.filter((c) => c.peer === fastPeer).every((c) => c.config.compression === 'none')).toBe(
          true,
        );
        console.log(renderTable(monitor.report()));
      } finally {
        monitor.close();
      }
    }, 90_000);
  },
);
