// The bounded soak for CI: 16 sender processes x 5000 messages through the @tmesh/manager facade over
// shared memory, a Unix socket, TCP and TLS 1.3 with pre-shared keys (four senders each). The full run
// (16 x 1 M) is scripts/reliability/soak.ts; its figures are in RELIABILITY.md, "Soak".
import { describe, expect, it } from 'vitest';
import { isAvailable } from '../../packages/shm-native/src/index.js';
import { ROUTES, rssReport, runSoak } from '../../scripts/reliability/soak-lib.js';

const shm = isAvailable();
if (!shm.available && !process.env.CI) console.warn(`soak without shared memory: ${shm.reason}`);
const routes = shm.available || process.env.CI ? ROUTES : ROUTES.filter((r) => r !== 'shm');

describe('soak (bounded)', () => {
  it('16 senders x 5000 messages over mixed routes: order, counts and checksums hold', async () => {
    const result = await runSoak({
      senders: 16,
      messages: 5000,
      maxSeconds: 240,
      routes,
      progress: (line) => console.log(line),
    });
    console.log(
      `soak: ${result.totalMessages} messages in ${result.seconds.toFixed(1)} s (${result.rate.toFixed(0)} msg/s); routes ${JSON.stringify(result.perRoute)}`,
    );
    expect(result.problems).toEqual([]);
    expect(result.totalMessages).toBe(16 * 5000);
    for (const s of result.perSender) {
      expect(s, s.id).toMatchObject({ sent: 5000, received: 5000, crcOk: true, orderErrors: 0 });
    }
    // Every route carried its quarter of the senders.
    for (const route of routes) expect(result.perRoute[route]?.senders).toBe(16 / routes.length);
    expect(result.rss.length).toBe(16 + routes.length);
  }, 300_000);

  it('judges RSS by the slope over the second half of the active time', () => {
    const MiB = 1024 * 1024;
    const flat = Array.from({ length: 120 }, (_, t) => ({ t, rss: 100 * MiB + (t % 7) * MiB }));
    const growing = Array.from({ length: 120 }, (_, t) => ({ t, rss: 100 * MiB + t * MiB }));
    expect(rssReport('flat', flat).flat).toBe(true);
    const g = rssReport('growing', growing);
    expect(g.flat).toBe(false);
    expect(g.slopeMiBPerMin).toBeCloseTo(60, 0);
    // Samples outside the active window are left out: the growth before t = 60 does not count.
    const settled = growing.map((s) => ({ t: s.t, rss: Math.min(s.rss, 160 * MiB) }));
    expect(rssReport('settled', settled, 60).flat).toBe(true);
  });
});
