import { register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { codeOf } from '../../../test-support/errors.js';
import { strategyLabel, TransportMonitor } from './monitor.js';
import { PrometheusExporter } from './prometheus.js';

const MiB = 1024 * 1024;
const ms = (v: number) => v * 1e6;

const monitors: TransportMonitor[] = [];
function makeMonitor(clock: { t: number }, options = {}): TransportMonitor {
  const monitor = new TransportMonitor({ now: () => clock.t, flushIntervalMs: 0, ...options });
  monitors.push(monitor);
  return monitor;
}
afterEach(() => {
  for (const m of monitors.splice(0)) m.close();
});

/** The same fixed traffic for the report and Prometheus tests. */
function fixedTraffic(monitor: TransportMonitor, clock: { t: number }): void {
  clock.t = 1000;
  const rust = monitor.recorder('node-b', { kind: 'rust', compression: 'none' });
  rust.record(MiB, ms(100));
  rust.record(MiB, ms(200));
  rust.record(1024, ms(1));
  rust.record(512, ms(50), 'error');
  rust.record(512, ms(5000), 'timeout');
  const shm = monitor.recorder('node-b', { kind: 'shm', idle: 'spin' });
  for (let i = 0; i < 4; i++) shm.record(64, 500 + i * 100);
  monitor.record('node-c', { kind: 'universal', compression: 'deflate' }, 256 * 1024, ms(400));
  monitor.recordHeartbeat('node-b', 0.5);
  monitor.recordHeartbeat('node-b', 0.7);
  monitor.recordCompressionSample('node-c', 1000, 250);
  monitor.flush();
  clock.t = 5000;
}

describe('TransportMonitor', () => {
  it('reports counts, bytes, latency quantiles and windowed throughput per stream', () => {
    const clock = { t: 0 };
    const monitor = makeMonitor(clock);
    fixedTraffic(monitor, clock);
    const report = monitor.report();
    expect(report.windowMs).toBe(10_000);
    expect(report.streams.map((s) => `${s.peer}/${s.strategy}`)).toEqual([
      'node-b/rust',
      'node-b/shm',
      'node-c/universal+deflate',
    ]);
    const rust = report.streams[0]!;
    expect(rust).toMatchObject({ messages: 5, errors: 1, timeouts: 1, bytes: 2 * MiB + 1024 });
    expect(rust.throughputBytesPerSec).toBeCloseTo(((2 * MiB + 1024) * 1e9) / ms(301), 3);
    // Flushed at t=1000, read at t=5000: the window spans 4 s.
    expect(rust.windowThroughputBytesPerSec).toBeCloseTo((2 * MiB + 1024) / 4, 6);
    expect(rust.windowMessagesPerSec).toBeCloseTo(5 / 4, 9);
    // HDR with 3 significant digits: within 0.1% of the recorded durations.
    expect(rust.latencyMs!.mean).toBeCloseTo(301 / 3, 6);
    expect(rust.latencyMs!.p50).toBeGreaterThanOrEqual(100);
    expect(rust.latencyMs!.p50).toBeLessThan(100.1);
    expect(rust.latencyMs!.max).toBeGreaterThanOrEqual(200);
    expect(rust.latencyMs!.max).toBeLessThan(200.2);
    expect(rust.latencyMs!.p99).toBeLessThanOrEqual(rust.latencyMs!.max);
    const shm = report.streams[1]!;
    expect(shm).toMatchObject({ messages: 4, errors: 0, bytes: 256 });
    expect(shm.latencyMs!.p50).toBe(0.0006);
    expect(shm.latencyMs!.max).toBe(0.0008);
    const [b, c] = report.peers;
    expect(b).toMatchObject({ peer: 'node-b', heartbeats: 2, minRttMs: 0.5, errorRate: 2 / 9 });
    // RFC 6298: SRTT = 0.875 * 0.5 + 0.125 * 0.7.
    expect(b!.rttMs).toBeCloseTo(0.525, 12);
    // Bandwidth: median of the two 1 MiB transfers (10 MiB/s and 5 MiB/s); the 1 KiB one is too small.
    expect(b!.bandwidthBytesPerSec).toBeCloseTo(7.5 * MiB, 6);
    expect(b!.wireThroughput).toEqual({ rust: b!.bandwidthBytesPerSec });
    expect(c).toMatchObject({ peer: 'node-c', compressionRatio: 0.25, errorRate: 0 });
    expect(c!.wireThroughput.universal).toBeCloseTo((256 * 1024) / 0.4, 6);
  });

  it('forgets window buckets older than the window', () => {
    const clock = { t: 0 };
    const monitor = makeMonitor(clock, { bucketMs: 100, windowBuckets: 5 });
    const r = monitor.recorder('p', 'rust');
    r.record(100, 10, 'error');
    monitor.flush();
    clock.t = 250;
    r.record(300, 10);
    monitor.flush();
    expect(monitor.linkCondition('p')).toMatchObject({ errorRate: 0.5, throughputBytesPerSec: 300 / 0.25 });
    clock.t = 560; // the bucket of t=0 left the 500 ms window, the one of t=250 did not
    expect(monitor.linkCondition('p')).toMatchObject({ errorRate: 0, throughputBytesPerSec: 300 / 0.5 });
    clock.t = 900;
    const condition = monitor.linkCondition('p');
    expect(condition.errorRate).toBeUndefined();
    expect(condition.throughputBytesPerSec).toBeUndefined();
  });

  it('buffers records until the batch is full, a read, or the flush timer', async () => {
    const clock = { t: 0 };
    const monitor = makeMonitor(clock, { batchSize: 4 });
    const r = monitor.recorder('p', 'swift');
    for (let i = 0; i < 3; i++) r.record(10, 1000);
    expect(r.latency.totalCount).toBe(0);
    r.record(10, 1000);
    expect(r.latency.totalCount).toBe(4);
    r.record(10, 1000);
    expect(monitor.report().streams[0]!.messages).toBe(5);

    const timed = new TransportMonitor({ flushIntervalMs: 10 });
    monitors.push(timed);
    const t = timed.recorder('p', 'rust');
    t.record(10, 1000);
    const deadline = Date.now() + 2000;
    while (t.latency.totalCount === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    expect(t.latency.totalCount).toBe(1);
  });

  it('caches recorders and labels strategies', () => {
    const monitor = makeMonitor({ t: 0 });
    expect(monitor.recorder('p', { kind: 'rust', compression: 'none' })).toBe(monitor.recorder('p', 'rust'));
    expect(strategyLabel({ kind: 'swift', compression: 'lz4' })).toBe('swift+lz4');
    expect(strategyLabel({ kind: 'shm', idle: 'park' })).toBe('shm');
    expect(strategyLabel('grpc')).toBe('grpc');
  });

  it('rejects bad input and use after close with stable codes', () => {
    const monitor = makeMonitor({ t: 0 });
    expect(codeOf(() => monitor.recorder('', 'rust'))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => monitor.recordHeartbeat('p', -1))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => monitor.recordHeartbeat('p', Number.NaN))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => monitor.recordCompressionSample('p', 0, 0))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => new TransportMonitor({ batchSize: 0 }))).toBe('E_INVALID_ARGUMENT');
    const r = monitor.recorder('p', 'rust');
    monitor.close();
    expect(codeOf(() => monitor.recorder('p', 'rust'))).toBe('E_CLOSED');
    r.record(1, 1);
    expect(codeOf(() => r.flush())).toBe('E_CLOSED');
  });
});

describe('PrometheusExporter', () => {
  it('exposes the fixed traffic in its own registry', async () => {
    const clock = { t: 0 };
    const monitor = makeMonitor(clock);
    fixedTraffic(monitor, clock);
    const exporter = new PrometheusExporter(monitor);
    const text = await exporter.metrics();
    const lines = text.split('\n');
    for (const line of [
      '# HELP tmesh_transmissions_total Transmissions by peer, strategy and outcome.',
      '# TYPE tmesh_transmissions_total counter',
      'tmesh_transmissions_total{peer="node-b",strategy="rust",outcome="ok"} 3',
      'tmesh_transmissions_total{peer="node-b",strategy="rust",outcome="error"} 1',
      'tmesh_transmissions_total{peer="node-b",strategy="rust",outcome="timeout"} 1',
      'tmesh_transmissions_total{peer="node-b",strategy="shm",outcome="ok"} 4',
      'tmesh_transmissions_total{peer="node-c",strategy="universal+deflate",outcome="ok"} 1',
      '# TYPE tmesh_transmitted_bytes_total counter',
      'tmesh_transmitted_bytes_total{peer="node-b",strategy="rust"} 2098176',
      'tmesh_transmitted_bytes_total{peer="node-b",strategy="shm"} 256',
      '# TYPE tmesh_transmission_duration_seconds gauge',
      'tmesh_transmission_duration_seconds{peer="node-b",strategy="shm",quantile="0.5"} 6e-7',
      'tmesh_transmission_duration_seconds{peer="node-b",strategy="shm",quantile="1"} 8e-7',
      'tmesh_window_throughput_bytes_per_second{peer="node-b",strategy="rust"} 524544',
      'tmesh_window_throughput_bytes_per_second{peer="node-b",strategy="shm"} 64',
      'tmesh_link_rtt_seconds{peer="node-b"} 0.000525',
      'tmesh_link_bandwidth_bytes_per_second{peer="node-b"} 7864320',
      'tmesh_link_error_ratio{peer="node-c"} 0',
      'tmesh_link_compression_ratio{peer="node-c"} 0.25',
    ]) {
      expect(lines).toContain(line);
    }
    // node-c has no heartbeat: no RTT line for it.
    expect(text).not.toContain('tmesh_link_rtt_seconds{peer="node-c"}');
    // Scraping the registry directly (without metrics()) gives the same values.
    expect(await exporter.registry.metrics()).toBe(text);
    // prom-client's global registry stays untouched.
    expect(await globalRegistry.metrics()).not.toContain('tmesh_');
  });
});
