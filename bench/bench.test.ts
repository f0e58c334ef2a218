// Runs the suite in --quick mode into a temp dir and checks that every row is there and sane (finite,
// positive, ratios computed); the timings themselves are not checked (CI machines vary too much).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SuiteResult, spliceSection } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const rustBin = resolve(here, '../target/release/tmesh-rust-peer');
const hasRust = existsSync(rustBin);

const ROWS = [
  "ShmChannel 'spin' (no facade)",
  "ShmChannel 'park' (no facade)",
  "tmesh shm 'spin'",
  "tmesh shm 'adaptive'",
  "tmesh shm 'park'",
  ...(hasRust ? ['tmesh shm TS -> Rust peer'] : []),
  'tmesh Unix socket (shm off)',
  'tmesh Swift wire (TCP)',
  ...(hasRust ? ['tmesh Rust wire TS -> Rust peer (TCP)'] : []),
  'tmesh universal (TCP)',
  'tmesh gRPC fallback (TCP)',
  'raw Unix socket',
  'raw TCP',
  'zeromq.js ipc (REQ/REP, PUSH/PULL)',
  'zeromq.js tcp (REQ/REP, PUSH/PULL)',
  'grpc-js unary',
  'grpc-js streaming',
];
const BROADCAST = [
  "tmesh shm 'park' broadcast",
  'tmesh Unix socket broadcast',
  'raw Unix socket x8',
  'raw TCP x8',
  'zeromq.js tcp PUSH x8',
  'grpc-js streaming x8',
];

const positive = (x: number | undefined) => {
  expect(typeof x).toBe('number');
  expect(Number.isFinite(x)).toBe(true);
  expect(x).toBeGreaterThan(0);
};

describe('bench/run.ts --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tmesh-bench-test-'));
  const md = join(dir, 'BENCHMARKS.md');
  let result: SuiteResult;
  let stderr = '';

  beforeAll(async () => {
    writeFileSync(md, '# Benchmarks\n\n## @tmesh/other\n\nkept as is\n');
    const code = await new Promise<number | null>((res) => {
      const p = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(here, 'run.ts'),
          '--quick',
          '--out',
          dir,
          '--md',
          md,
          '--rust-peer',
          hasRust ? rustBin : 'none',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      p.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const kill = setTimeout(() => p.kill('SIGKILL'), 170_000);
      p.on('exit', (c) => {
        clearTimeout(kill);
        res(c);
      });
    });
    expect(code, stderr).toBe(0);
    result = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as SuiteResult;
  }, 180_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures every row without errors', () => {
    expect(result.rows.map((r) => r.name)).toEqual(ROWS);
    for (const row of result.rows) {
      expect(row.error, `${row.name}: ${row.error}`).toBeUndefined();
      positive(row.rtt?.p50);
      expect(row.rtt!.p99).toBeGreaterThanOrEqual(row.rtt!.p50);
      expect(row.rtt!.p999).toBeGreaterThanOrEqual(row.rtt!.p99);
      positive(row.rssClientMiB);
      positive(row.rssServerMiB);
      positive(row.ratios.rttVsRaw);
      positive(row.ratios.rttVsGrpc);
      if (row.name === 'grpc-js unary') continue;
      positive(row.msgs64?.perSecond);
      positive(row.kib4?.mbPerSecond);
      positive(row.mib1?.mbPerSecond);
      expect(Number.isFinite(row.mib1!.spreadPct)).toBe(true);
      for (const k of ['msgs64', 'kib4', 'mib1']) {
        positive(row.ratios[`${k}VsRaw`]);
        positive(row.ratios[`${k}VsGrpc`]);
      }
    }
    const raw = result.rows.find((r) => r.name === 'raw TCP')!;
    expect(raw.ratios.mib1VsRaw).toBe(1);
  });

  it('measures the 8-receiver broadcast rows', () => {
    expect(result.broadcast.map((b) => b.name)).toEqual(BROADCAST);
    for (const b of result.broadcast) {
      expect(b.error, `${b.name}: ${b.error}`).toBeUndefined();
      positive(b.deliveredPerSecond);
      positive(b.ratios.vsRaw);
      positive(b.ratios.vsGrpc);
      positive(b.rssSenderMiB);
      positive(b.rssReceiverMaxMiB);
    }
  });

  it('judges every goal with a ratio', () => {
    expect(result.goals).toHaveLength(11);
    for (const g of result.goals) {
      positive(g.measured);
      expect(typeof g.met).toBe('boolean');
    }
  });

  it('writes the chart and regenerates only its own BENCHMARKS.md section', () => {
    const svg = readFileSync(join(dir, 'chart.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    for (const row of result.rows) expect(svg).toContain(row.name.replace(/>/g, '&gt;'));
    const doc = readFileSync(md, 'utf8');
    expect(doc).toContain('## @tmesh/other\n\nkept as is');
    expect(doc).toContain('## Side-by-side suite (bench/)');
    expect(doc).toContain('<!-- bench:start -->');
    expect(doc).toContain('| grpc-js streaming |');
    // A second run replaces the section instead of appending another.
    const again = spliceSection(doc, 'second body');
    expect(again.match(/bench:start/g)).toHaveLength(1);
    expect(again).toContain('second body');
    expect(again).toContain('kept as is');
  });
});
