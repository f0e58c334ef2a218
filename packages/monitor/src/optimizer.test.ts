import { isTmeshError } from '@tmesh/core';
import { describe, expect, it } from 'vitest';
import type { LinkCondition } from './link-condition.js';
import { TransportMonitor } from './monitor.js';
import type { ConfigChange } from './optimizer.js';
import { AdaptiveOptimizer, DEFAULT_TRANSPORT_CONFIG, tierWithHysteresis } from './optimizer.js';

const MiB = 1024 * 1024;

function setup(hysteresis = {}) {
  const clock = { t: 0 };
  const optimizer = new AdaptiveOptimizer({
    now: () => clock.t,
    hysteresis: { minHoldMs: 1000, ...hysteresis },
  });
  const changes: ConfigChange[] = [];
  optimizer.subscribe((c) => changes.push(c));
  /** One update per simulated second. */
  const feed = (peer: string, condition: LinkCondition, times = 1, sameMachine = false) => {
    for (let i = 0; i < times; i++) {
      clock.t += 1000;
      optimizer.update(peer, condition, { sameMachine });
    }
  };
  return { clock, optimizer, changes, feed };
}

describe('tierWithHysteresis', () => {
  const bounds = [10, 100];
  it.each([
    // value, current tier, expected tier
    [5, undefined, 0],
    [10, undefined, 0],
    [11, undefined, 1],
    [150, undefined, 2],
    [11, 0, 0], // above 10 but inside the band (needs > 12)
    [12.5, 0, 1],
    [9, 1, 1], // below 10 but inside the band (needs < 8)
    [7.9, 1, 0],
    [500, 0, 2], // jumps several tiers at once
    [1, 2, 0],
    [85, 2, 2],
    [79, 2, 1],
  ] as const)('value %d from tier %s -> %d', (value, current, expected) => {
    expect(tierWithHysteresis(value, bounds, current, 0.2)).toBe(expected);
  });
});

describe('AdaptiveOptimizer', () => {
  it('starts from the default config', () => {
    const { optimizer, feed, changes } = setup();
    expect(optimizer.configFor('p')).toEqual(DEFAULT_TRANSPORT_CONFIG);
    feed('p', {}, 5);
    expect(optimizer.configFor('p')).toEqual(DEFAULT_TRANSPORT_CONFIG);
    expect(changes).toEqual([]);
  });

  it('turns compression on for a slow link after three confirming updates, and tells subscribers once', () => {
    const { optimizer, feed, changes } = setup();
    const slow: LinkCondition = {
      bandwidthBytesPerSec: 1.25e6,
      compressionRatio: 0.3,
      rttMs: 0.4,
      rttVarMs: 0.1,
    };
    feed('node-b', slow, 2);
    expect(optimizer.configFor('node-b').compression).toBe('none');
    expect(changes).toHaveLength(0);
    feed('node-b', slow, 1);
    expect(changes).toHaveLength(1);
    expect(changes[0]!.peer).toBe('node-b');
    expect(changes[0]!.previous).toEqual(DEFAULT_TRANSPORT_CONFIG);
    expect(changes[0]!.config).toEqual({
      bufferSize: 64 * 1024,
      batchSize: 64,
      batchDelayMs: 0,
      connectTimeoutMs: 2000,
      timeoutMs: 2000,
      compression: 'best',
      compressionLevel: 6,
      shmIdle: 'adaptive',
    });
    expect(changes[0]!.reasons).toEqual([
      'bandwidth 1.19 MiB/s -> buffer 64 KiB',
      'rto 0.8 ms -> timeout 2000 ms',
      'bandwidth 1.19 MiB/s < 10.00 MiB/s, ratio 0.30 -> best compression, deflate level 6',
    ]);
    feed('node-b', slow, 10);
    expect(changes).toHaveLength(1);
    expect(optimizer.configFor('node-b')).toEqual(changes[0]!.config);
  });

  it('uses the fast deflate level between 2 and 10 MiB/s', () => {
    const { optimizer, feed } = setup();
    feed('p', { bandwidthBytesPerSec: 5 * MiB }, 3);
    expect(optimizer.configFor('p')).toMatchObject({
      compression: 'best',
      compressionLevel: 1,
      bufferSize: 64 * 1024,
    });
  });

  it('turns on the algorithm its options name for a slow link, and refuses an unknown one', () => {
    for (const compression of ['zstd', 'lz4', 'deflate', 'fast'] as const) {
      const optimizer = new AdaptiveOptimizer({ compression, hysteresis: { minHoldMs: 0 } });
      for (let i = 0; i < 3; i++) optimizer.update('p', { bandwidthBytesPerSec: 1e6, compressionRatio: 0.3 });
      expect(optimizer.configFor('p').compression).toBe(compression);
    }
    let thrown: unknown;
    try {
      new AdaptiveOptimizer({ compression: 'brotli' as 'zstd' });
    } catch (error) {
      thrown = error;
    }
    expect(isTmeshError(thrown, 'E_INVALID_ARGUMENT')).toBe(true);
  });

  it('keeps compression off on a fast link, for incompressible payloads and on the same machine', () => {
    const { optimizer, feed } = setup();
    feed('fast', { bandwidthBytesPerSec: 500 * MiB, compressionRatio: 0.2 }, 5);
    expect(optimizer.configFor('fast')).toMatchObject({
      compression: 'none',
      compressionLevel: 0,
      bufferSize: MiB,
    });
    feed('random', { bandwidthBytesPerSec: 1e6, compressionRatio: 0.99 }, 5);
    expect(optimizer.configFor('random')).toMatchObject({ compression: 'none', bufferSize: 64 * 1024 });
    feed('local', { bandwidthBytesPerSec: 1e6, compressionRatio: 0.1 }, 5, true);
    expect(optimizer.configFor('local').compression).toBe('none');
  });

  it('does not flap when bandwidth hovers around the 10 MiB/s threshold', () => {
    const { optimizer, feed, changes } = setup();
    feed('p', { bandwidthBytesPerSec: 12.5 * MiB }, 3);
    expect(optimizer.configFor('p')).toMatchObject({ compression: 'none', bufferSize: 256 * 1024 });
    const before = changes.length;
    for (let i = 0; i < 40; i++) feed('p', { bandwidthBytesPerSec: (i % 2 === 0 ? 9.2 : 10.8) * MiB });
    expect(changes.length).toBe(before);
    expect(optimizer.configFor('p').compression).toBe('none');
    // Once it really drops, compression comes on; hovering just above 10 MiB/s keeps it on.
    feed('p', { bandwidthBytesPerSec: 4 * MiB }, 3);
    expect(optimizer.configFor('p').compression).toBe('best');
    const on = changes.length;
    for (let i = 0; i < 40; i++) feed('p', { bandwidthBytesPerSec: (i % 2 === 0 ? 9.5 : 11.5) * MiB });
    expect(changes.length).toBe(on);
    expect(optimizer.configFor('p').compression).toBe('best');
  });

  it('does not flap when measurements swing widely every update', () => {
    const { optimizer, feed, changes } = setup();
    for (let i = 0; i < 30; i++) feed('p', { bandwidthBytesPerSec: i % 2 === 0 ? 1e6 : 500 * MiB });
    expect(changes).toEqual([]);
    expect(optimizer.configFor('p')).toEqual(DEFAULT_TRANSPORT_CONFIG);
  });

  it('holds a change for minHoldMs before the next one', () => {
    const { clock, optimizer, changes } = setup({ minHoldMs: 10_000, confirmations: 2 });
    const step = (bandwidth: number) => {
      clock.t += 1000;
      optimizer.update('p', { bandwidthBytesPerSec: bandwidth });
    };
    step(1e6);
    step(1e6);
    expect(changes).toHaveLength(1);
    for (let i = 0; i < 8; i++) step(500 * MiB);
    expect(changes).toHaveLength(1); // 8 s after the change: still held
    step(500 * MiB);
    step(500 * MiB);
    expect(changes).toHaveLength(2);
    expect(changes[1]!.config).toMatchObject({ compression: 'none', bufferSize: MiB });
    expect(changes[1]!.reasons).toContain('bandwidth 500.00 MiB/s >= 10.00 MiB/s -> compression off');
  });

  it('tunes batching and timeouts from RTT', () => {
    const { optimizer, feed } = setup();
    feed('lan', { rttMs: 5, rttVarMs: 1 }, 3);
    expect(optimizer.configFor('lan')).toMatchObject({ batchSize: 256, batchDelayMs: 1, timeoutMs: 2000 });
    feed('wan', { rttMs: 200, rttVarMs: 100 }, 3);
    // RTO = 200 + 4 * 100 = 600 ms -> 10 x RTO = 6 s -> the 8 s step.
    expect(optimizer.configFor('wan')).toMatchObject({
      batchSize: 1024,
      batchDelayMs: 5,
      timeoutMs: 8000,
      connectTimeoutMs: 8000,
    });
    feed('far', { rttMs: 20_000, rttVarMs: 0 }, 3);
    expect(optimizer.configFor('far').timeoutMs).toBe(60_000);
  });

  it('picks the shm idle strategy from the message rate on the same machine', () => {
    const { optimizer, feed } = setup();
    feed('busy', { messagesPerSec: 500_000 }, 3, true);
    expect(optimizer.configFor('busy').shmIdle).toBe('spin');
    feed('quiet', { messagesPerSec: 10 }, 3, true);
    expect(optimizer.configFor('quiet').shmIdle).toBe('park');
    feed('remote', { messagesPerSec: 500_000 }, 3, false);
    expect(optimizer.configFor('remote').shmIdle).toBe('adaptive');
  });

  it('unsubscribes, and applies the change even when a subscriber throws', () => {
    const { optimizer, feed, changes } = setup();
    const off = optimizer.subscribe(() => {
      throw new Error('boom');
    });
    let thrown: unknown;
    try {
      feed('p', { bandwidthBytesPerSec: 1e6 }, 3);
    } catch (error) {
      thrown = error;
    }
    expect(isTmeshError(thrown, 'E_INTERNAL')).toBe(true);
    expect(changes).toHaveLength(1);
    expect(optimizer.configFor('p').compression).toBe('best');
    off();
    feed('p', { bandwidthBytesPerSec: 500 * MiB }, 3);
    expect(changes).toHaveLength(2);
  });

  it('rejects bad options', () => {
    for (const hysteresis of [{ band: 1 }, { confirmations: 0 }, { minHoldMs: -1 }]) {
      let thrown: unknown;
      try {
        new AdaptiveOptimizer({ hysteresis });
      } catch (error) {
        thrown = error;
      }
      expect(isTmeshError(thrown, 'E_INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('observe reports a throwing subscriber to onError and keeps polling', async () => {
    const monitor = new TransportMonitor({ flushIntervalMs: 0 });
    const optimizer = new AdaptiveOptimizer({ hysteresis: { minHoldMs: 0, confirmations: 1 } });
    optimizer.subscribe(() => {
      throw new Error('subscriber broke');
    });
    const errors: unknown[] = [];
    monitor.recorder('a', 'rust').record(MiB, 1e9);
    const stop = optimizer.observe(monitor, { intervalMs: 5, onError: (e) => errors.push(e) });
    try {
      const deadline = Date.now() + 2000;
      while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(isTmeshError(errors[0], 'E_INTERNAL')).toBe(true);
      expect(optimizer.configFor('a').compression).toBe('best');
    } finally {
      stop();
      monitor.close();
    }
  });

  it('observes a monitor and pushes the config for a slow peer', async () => {
    const monitor = new TransportMonitor({ flushIntervalMs: 0 });
    const optimizer = new AdaptiveOptimizer({ hysteresis: { minHoldMs: 0 } });
    const seen = new Promise<ConfigChange>((resolve) => optimizer.subscribe(resolve));
    const recorder = monitor.recorder('slow-peer', 'rust');
    for (let i = 0; i < 4; i++) recorder.record(MiB, 800e6); // 1 MiB in 0.8 s: 1.25 MiB/s
    const stop = optimizer.observe(monitor, { intervalMs: 10 });
    try {
      const change = await seen;
      expect(change.peer).toBe('slow-peer');
      expect(change.config).toMatchObject({
        compression: 'best',
        compressionLevel: 6,
        bufferSize: 64 * 1024,
      });
    } finally {
      stop();
      monitor.close();
    }
  });
});
