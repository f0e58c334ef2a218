import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { AdaptiveOptimizer, TransportMonitor } from '@tmesh/monitor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Real @tmesh/net links between two network namespaces joined by a veth pair, the sender's side shaped to
// 10 Mbit/s with tc tbf. Uncompressed transfers feed the monitor; the optimizer sees a slow link with
// compressible payloads and asks for 'best' compression; the link resolves that to zstd (both ends have
// the native addon), 'fast' to lz4; each is measured against the uncompressed goodput, and the receiver's
// count and CRC-32 prove every byte arrived.

const SHAPED_RATE_BYTES_PER_SEC = 10e6 / 8;
const FIXTURE = fileURLToPath(new URL('./fixtures/compression-link.ts', import.meta.url));

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skipReason =
  process.platform !== 'linux'
    ? 'network namespaces need Linux'
    : process.getuid?.() !== 0
      ? 'network namespaces need root'
      : !has('ip') || !has('tc')
        ? 'needs iproute2 (`ip` and `tc`): apt-get install -y iproute2'
        : undefined;
if (skipReason) {
  if (process.env.CI) throw new Error(`compression netns test cannot run in CI: ${skipReason}`);
  console.warn(`compression netns test skipped: ${skipReason}`);
}

const suffix = randomBytes(3).toString('hex');
const subnet = `10.${150 + (randomBytes(1)[0]! % 40)}.${randomBytes(1)[0]!}`;
const NS_SEND = `tmesh-cz-${suffix}-s`;
const NS_RECV = `tmesh-cz-${suffix}-r`;
const VETH_SEND = `tc${suffix}s`;
const VETH_RECV = `tc${suffix}r`;
const SEND_IP = `${subnet}.1`;
const RECV_IP = `${subnet}.2`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
}
function inNs(ns: string, command: string, ...args: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, command, ...args], { stdio: 'pipe', timeout: 10_000 });
}

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
    const created: string[] = [];

    beforeAll(async () => {
      ip('netns', 'add', NS_SEND);
      created.push(NS_SEND);
      ip('netns', 'add', NS_RECV);
      created.push(NS_RECV);
      ip(
        'link',
        'add',
        VETH_SEND,
        'netns',
        NS_SEND,
        'type',
        'veth',
        'peer',
        'name',
        VETH_RECV,
        'netns',
        NS_RECV,
      );
      inNs(NS_SEND, 'ip', 'addr', 'add', `${SEND_IP}/24`, 'dev', VETH_SEND);
      inNs(NS_RECV, 'ip', 'addr', 'add', `${RECV_IP}/24`, 'dev', VETH_RECV);
      for (const [ns, dev] of [
        [NS_SEND, VETH_SEND],
        [NS_RECV, VETH_RECV],
      ] as const) {
        inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
        inNs(ns, 'ip', 'link', 'set', dev, 'up');
      }
      inNs(
        NS_SEND,
        'tc',
        'qdisc',
        'replace',
        'dev',
        VETH_SEND,
        'root',
        'tbf',
        'rate',
        '10mbit',
        'burst',
        '32kbit',
        'latency',
        '400ms',
      );
      const args = JSON.stringify({ role: 'receiver', host: RECV_IP });
      receiver = spawn('ip', ['netns', 'exec', NS_RECV, process.execPath, '--import', 'tsx', FIXTURE, args], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('receiver did not start in 20 s')), 20_000);
        receiver!.stdout!.on('data', (chunk: Buffer) => {
          const match = /"ready":(\d+)/.exec(chunk.toString());
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        });
        receiver!.on('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
      });
    }, 40_000);

    afterAll(() => {
      receiver?.kill('SIGKILL');
      for (const ns of created.reverse()) {
        try {
          ip('netns', 'del', ns);
        } catch (error) {
          console.warn(`could not delete netns ${ns}: ${String(error)}`);
        }
      }
    });

    async function send(phases: { compression: string; count: number; size: number }[]): Promise<Line[]> {
      const args = JSON.stringify({ role: 'sender', host: RECV_IP, port, phases });
      const child = spawn(
        'ip',
        ['netns', 'exec', NS_SEND, process.execPath, '--import', 'tsx', FIXTURE, args],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
      });
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      if (code !== 0) throw new Error(`sender exited with ${code}: ${err}`);
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
