import { describe, expect, it } from 'vitest';
import type { CheckedReport } from './performance-metrics.js';
import { runExample } from './run-example.js';

describe('examples/performance-metrics.ts', () => {
  it('the collector prints each PerformanceMetrics report as a table whose counts match what it received', async () => {
    const run = await runExample<{ verified: boolean; reports: Omit<CheckedReport, 'table'>[] }>(
      'performance-metrics.ts',
      ['--reports', '3', '--interval', '200'],
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { reports, verified } = run.result!;
    expect(verified).toBe(true);
    expect(reports.map((r) => r.sequence)).toEqual([1, 2, 3]);
    for (const r of reports) expect(r.reportedMessages).toBe(r.receivedBefore);
    // Each report counts more than the one before (traffic between them, plus the report itself).
    for (let i = 1; i < reports.length; i++)
      expect(reports[i]!.reportedMessages).toBeGreaterThan(reports[i - 1]!.reportedMessages);

    // The printed tables: one per report, with the worker's row for the collector and its message count.
    const tables = run.stdout.split('PerformanceMetrics #').slice(1);
    expect(tables).toHaveLength(3);
    tables.forEach((table, i) => {
      expect(table).toMatch(/^\d+ from worker \(/);
      expect(table).toContain('tmesh performance (window 10 s)');
      expect(table).toMatch(/peer\s+strategy\s+msgs\s+errors\s+bytes\s+avg MiB\/s/);
      const row = /^collector\s+(\S+)\s+(\d+)\s+(\d+)\s/m.exec(table);
      expect(row, `table ${i + 1} has a collector row`).not.toBeNull();
      expect(reports[i]!.strategies).toContain(row![1]);
      expect(Number(row![2])).toBe(reports[i]!.reportedMessages);
      expect(Number(row![3])).toBe(0);
    });
  });

  it('rejects a bad interval with E_INVALID_ARGUMENT', async () => {
    const run = await runExample('performance-metrics.ts', ['--interval', '1']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/E_INVALID_ARGUMENT/);
  });
});
