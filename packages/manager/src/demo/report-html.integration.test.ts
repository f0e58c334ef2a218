import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoReport, renderHtml } from './report.js';
import { runDemo } from './run.js';

// The demo's HTML report, rendered by a real headless Chromium (Debian's, driven by playwright-core):
// a report from a real quick demo run must load without console or page errors, and both charts must
// draw a bar for every route and for the gRPC baseline.

const CHROMIUM = '/usr/bin/chromium';
const skipReason = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing: apt-get install -y chromium (scripts/tmesh-run.mjs installs it when root)`;
if (skipReason) console.warn(`demo report headless Chromium test skipped: ${skipReason}`);

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe.skipIf(skipReason !== undefined)('demo report in headless Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'tmesh-report-html-'));
  const outDir = join(work, 'report');
  let report: DemoReport;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    report = await runDemo({ quick: true, rustPeer: false, netns: false, outDir, log: () => {} });
    // Playwright refuses --user-data-dir in args; a persistent context is how it takes a fresh one.
    context = await chromium.launchPersistentContext(mkdtempSync(join(work, 'profile-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 30_000,
    });
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('loads without errors; both charts have a bar per route and the baseline; the screenshot is a PNG', async () => {
    // Every route of the quick demo ran, so "a bar for every route" means every one of them.
    expect(report.routes.length).toBeGreaterThanOrEqual(4);
    for (const r of report.routes)
      expect({ route: r.name, error: r.error, verified: r.verified }).toEqual({
        route: r.name,
        error: undefined,
        verified: true,
      });
    const file = join(outDir, 'report.html');
    expect(readFileSync(file, 'utf8')).toBe(renderHtml(report));

    const page = await context!.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request: ${r.url()} ${r.failure()?.errorText}`));
    const response = await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    expect(response?.ok()).toBe(true);
    expect(await page.title()).toBe('tmesh demo report');

    const expected = [...report.routes.map((r) => r.name), report.baseline.name].sort();
    const values = {
      'chart-throughput': new Map([
        ...report.routes.map((r) => [r.name, r.throughputMBps] as const),
        [report.baseline.name, report.baseline.throughputMBps] as const,
      ]),
      'chart-rtt': new Map([
        ...report.routes.map((r) => [r.name, r.rttP50Us] as const),
        [report.baseline.name, report.baseline.rttP50Us] as const,
      ]),
    };
    for (const [chart, byRoute] of Object.entries(values)) {
      const bars = await page.$$eval(`#${chart} g[data-route]`, (groups) =>
        groups.map((g) => {
          const box = g.querySelector('rect')!.getBoundingClientRect();
          return { route: g.getAttribute('data-route')!, width: box.width, height: box.height };
        }),
      );
      expect(bars.map((b) => b.route).sort(), chart).toEqual(expected);
      for (const b of bars) {
        expect(b.width, `${chart} ${b.route}`).toBeGreaterThan(0);
        expect(b.height, `${chart} ${b.route}`).toBeGreaterThan(0);
      }
      // Bars are drawn to scale: the largest value gets the widest bar, in the proportions of the values.
      const max = Math.max(...byRoute.values());
      const widest = Math.max(...bars.map((b) => b.width));
      for (const b of bars) {
        const expectedWidth = Math.max(1, (byRoute.get(b.route)! / max) * widest);
        expect(Math.abs(b.width - expectedWidth), `${chart} ${b.route}`).toBeLessThan(1.5);
      }
    }

    const shot = join(work, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
    expect(png.readUInt32BE(16)).toBeGreaterThan(0); // width
    expect(png.readUInt32BE(20)).toBeGreaterThan(300); // height: the table and both charts
    expect(png.length).toBeGreaterThan(5000);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
