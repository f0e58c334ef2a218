import { describe, expect, it } from 'vitest';
import type { PerformanceReport } from './report.js';
import { renderJson, renderTable } from './report.js';

const MiB = 1024 * 1024;

// A fixed report: two peers, three streams, one peer never measured beyond one error.
const REPORT: PerformanceReport = {
  windowMs: 10_000,
  streams: [
    {
      peer: 'node-b',
      strategy: 'rust',
      messages: 1200,
      errors: 2,
      timeouts: 1,
      bytes: 96 * MiB,
      throughputBytesPerSec: 112.5 * MiB,
      windowThroughputBytesPerSec: 9.6 * MiB,
      windowMessagesPerSec: 120,
      latencyMs: { mean: 0.8333, p50: 0.512, p90: 1.25, p99: 4.0961, max: 12.5 },
    },
    {
      peer: 'node-b',
      strategy: 'shm',
      messages: 1_000_000,
      errors: 0,
      timeouts: 0,
      bytes: 64_000_000,
      throughputBytesPerSec: 3000 * MiB,
      windowThroughputBytesPerSec: 6.4e6,
      windowMessagesPerSec: 100_000,
      latencyMs: { mean: 0.0006, p50: 0.0005, p90: 0.0009, p99: 0.0021, max: 0.05 },
    },
    {
      peer: 'node-c',
      strategy: 'universal+deflate',
      messages: 1,
      errors: 1,
      timeouts: 0,
      bytes: 0,
      throughputBytesPerSec: undefined,
      windowThroughputBytesPerSec: 0,
      windowMessagesPerSec: 0.1,
      latencyMs: undefined,
    },
  ],
  peers: [
    {
      peer: 'node-b',
      heartbeats: 10,
      rttMs: 0.25,
      minRttMs: 0.125,
      rttP99Ms: 0.5,
      bandwidthBytesPerSec: 1.19 * MiB,
      errorRate: 0.0025,
      compressionRatio: 0.3125,
      wireThroughput: { rust: 1.19 * MiB },
    },
    {
      peer: 'node-c',
      heartbeats: 0,
      rttMs: undefined,
      minRttMs: undefined,
      rttP99Ms: undefined,
      bandwidthBytesPerSec: undefined,
      errorRate: 1,
      compressionRatio: undefined,
      wireThroughput: {},
    },
  ],
};

describe('renderTable', () => {
  it('renders the fixed report exactly', () => {
    expect(renderTable(REPORT)).toBe(
      [
        'tmesh performance (window 10 s)',
        '',
        'peer    strategy              msgs  errors     bytes  avg MiB/s  win MiB/s  win msg/s  avg ms  p50 ms  p99 ms  max ms',
        '------  -----------------  -------  ------  --------  ---------  ---------  ---------  ------  ------  ------  ------',
        'node-b  rust                  1200       3  96.0 MiB     112.50       9.60      120.0   0.833   0.512   4.096  12.500',
        'node-b  shm                1000000       0  61.0 MiB    3000.00       6.10   100000.0   0.001   0.001   0.002   0.050',
        'node-c  universal+deflate        1       1       0 B          -       0.00        0.1       -       -       -       -',
        '',
        'peer    rtt ms  min rtt ms  p99 rtt ms  bandwidth MiB/s  error rate  compress ratio',
        '------  ------  ----------  ----------  ---------------  ----------  --------------',
        'node-b   0.250       0.125       0.500             1.19        0.3%           0.313',
        'node-c       -           -           -                -      100.0%               -',
        '',
      ].join('\n'),
    );
  });

  it('renders an empty report with headers only', () => {
    expect(renderTable({ windowMs: 5000, streams: [], peers: [] })).toBe(
      [
        'tmesh performance (window 5 s)',
        '',
        'peer  strategy  msgs  errors  bytes  avg MiB/s  win MiB/s  win msg/s  avg ms  p50 ms  p99 ms  max ms',
        '----  --------  ----  ------  -----  ---------  ---------  ---------  ------  ------  ------  ------',
        '',
        'peer  rtt ms  min rtt ms  p99 rtt ms  bandwidth MiB/s  error rate  compress ratio',
        '----  ------  ----------  ----------  ---------------  ----------  --------------',
        '',
      ].join('\n'),
    );
  });
});

describe('renderJson', () => {
  it('renders the fixed report as JSON, leaving absent measurements out', () => {
    const text = renderJson({ windowMs: 10_000, streams: [REPORT.streams[2]!], peers: [REPORT.peers[1]!] });
    expect(text).toBe(
      `${[
        '{',
        '  "windowMs": 10000,',
        '  "streams": [',
        '    {',
        '      "peer": "node-c",',
        '      "strategy": "universal+deflate",',
        '      "messages": 1,',
        '      "errors": 1,',
        '      "timeouts": 0,',
        '      "bytes": 0,',
        '      "windowThroughputBytesPerSec": 0,',
        '      "windowMessagesPerSec": 0.1',
        '    }',
        '  ],',
        '  "peers": [',
        '    {',
        '      "peer": "node-c",',
        '      "heartbeats": 0,',
        '      "errorRate": 1,',
        '      "wireThroughput": {}',
        '    }',
        '  ]',
        '}',
      ].join('\n')}\n`,
    );
  });

  it('round-trips the full report', () => {
    const parsed = JSON.parse(renderJson(REPORT)) as PerformanceReport;
    expect(parsed.streams[0]).toEqual(REPORT.streams[0]);
    expect(parsed.peers[0]).toEqual(REPORT.peers[0]);
    expect(parsed.streams[2]!.latencyMs).toBeUndefined();
  });
});
