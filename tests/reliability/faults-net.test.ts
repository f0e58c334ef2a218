// Network faults between two network namespaces (a partition and random packet loss with nftables, a
// tc tbf rate limit) and etcd stopped and restarted under running nodes: the bounded CI versions of
// scripts/reliability/faults.ts --net. Needs root, iproute2, nftables and etcd-server (scripts/tmesh-run.mjs
// installs them in CI); skips with the reason elsewhere, never in CI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  etcdSkipReason,
  faultsPair,
  type NetScenarioResult,
  netFaultsSkipReason,
  runEtcdScenario,
  runNetScenario,
} from '../../scripts/reliability/faults-net.js';
import type { NetnsPair } from '../../test-support/netns.js';

const netSkip = netFaultsSkipReason();
const etcdSkip = etcdSkipReason();
if (process.env.CI && (netSkip || etcdSkip))
  throw new Error(`CI must run the network fault tests, but: ${netSkip ?? etcdSkip}`);
if (netSkip) console.warn(`netns fault tests skipped: ${netSkip}`);
if (etcdSkip) console.warn(`etcd fault test skipped: ${etcdSkip}`);

function expectClean(r: NetScenarioResult): void {
  console.log(
    `${r.name}: sent ${r.tally.sent}, resolved ${r.tally.resolved}, rejected ${JSON.stringify(r.tally.rejected)}, rejected but delivered ${r.tally.rejectedButDelivered}; during the fault ${r.duringFault.resolved} resolved, ${r.duringFault.rejected} rejected (${r.ms} ms)${r.problems.length ? `\nproblems: ${r.problems.join('\n')}` : ''}`,
  );
  expect(r.problems).toEqual([]);
  expect(r.tally).toMatchObject({ lost: 0, duplicated: 0, corrupt: 0, unreported: 0 });
  expect(r.recovered).toBe(true);
  expect(r.tally.sent).toBeGreaterThan(0);
}

describe.skipIf(netSkip !== undefined)('network faults between two namespaces', () => {
  let pair: NetnsPair;
  beforeAll(() => {
    pair = faultsPair();
    pair.setup();
  });
  afterAll(() => {
    const failures = pair?.dispose() ?? [];
    if (failures.length) console.warn(failures.join('\n'));
  });

  it('a partition (every packet on the veth dropped for 5 s), then healed', async () => {
    const r = await runNetScenario(pair, { kind: 'partition', afterMs: 1000, holdMs: 5000 }, 8000);
    expectClean(r);
    // The cut was felt: requests in flight across it outlived their 4 s deadline and were failed to
    // the sender (each one delivered at most once, when the link resumed).
    expect(Object.values(r.tally.rejected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  }, 120_000);

  it('random packet loss (15% of TCP packets each way for 4 s)', async () => {
    const r = await runNetScenario(pair, { kind: 'loss', percent: 15, afterMs: 500, holdMs: 4000 }, 6000);
    expectClean(r);
    // TCP carried the stream through the loss.
    expect(r.duringFault.resolved).toBeGreaterThan(0);
  }, 120_000);

  it('a tbf rate-limited link (256 kbit/s for 4 s)', async () => {
    const r = await runNetScenario(pair, { kind: 'tbf', rate: '256kbit', afterMs: 500, holdMs: 4000 }, 6000);
    expectClean(r);
    expect(r.duringFault.resolved).toBeGreaterThan(0);
  }, 120_000);
});

describe.skipIf(etcdSkip !== undefined)('etcd stopped and restarted under running nodes', () => {
  it('SIGTERM then SIGKILL: the existing link keeps working, discovery recovers, nothing crashes', async () => {
    const r = await runEtcdScenario();
    console.log(
      `etcd: sent ${r.tally.sent}, resolved ${r.tally.resolved}, rejected ${JSON.stringify(r.tally.rejected)}, rediscovered ${JSON.stringify(r.rediscovered)} (${r.ms} ms)${r.problems.length ? `\nproblems: ${r.problems.join('\n')}` : ''}`,
    );
    expect(r.problems).toEqual([]);
    expect(r.tally).toMatchObject({ lost: 0, duplicated: 0, corrupt: 0, unreported: 0 });
    expect(r.rediscovered).toEqual({ afterSigterm: true, afterSigkill: true });
    expect(r.recovered).toBe(true);
  }, 150_000);
});
