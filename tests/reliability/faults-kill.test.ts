// Bounded kill -9 fault injection for CI (the 100-trial runs: scripts/reliability/faults.ts, RELIABILITY.md).
// A sender and a receiver run as separate processes through the @tmesh/manager facade, over shared memory
// and over TCP; each trial SIGKILLs one of them mid-stream, restarts it and checks the logs of both.
import { describe, expect, it } from 'vitest';
import { isAvailable } from '../../packages/shm-native/src/index.js';
import { runKillTrial, type TrialResult } from '../../scripts/reliability/faults-lib.js';

const TRIALS = 5;
const shm = isAvailable();
if (!shm.available && !process.env.CI) console.warn(`shm kill -9 trials skipped: ${shm.reason}`);

function expectClean(results: TrialResult[]): void {
  for (const r of results) {
    expect(r.problems, `${r.mode} trial, ${r.side} killed at +${r.killAfterMs} ms`).toEqual([]);
    expect(r.tally).toMatchObject({ lost: 0, duplicated: 0, corrupt: 0, unreported: 0 });
    expect(r.recovered).toBe(true);
    // The survivor let go of every region it shared with the dead process (not only once it closed).
    expect(r.deadPeerRegionsHeld).toEqual([]);
    expect(r.leakedRegions).toEqual([]);
    expect(r.leakedFiles).toEqual([]);
  }
  // The kills landed mid-stream: some messages were failed to a surviving sender or died with theirs.
  const receiverKills = results.filter((r) => r.side === 'receiver');
  const senderKills = results.filter((r) => r.side === 'sender');
  expect(
    receiverKills.reduce((n, r) => n + Object.values(r.tally.rejected).reduce((a, b) => a + b, 0), 0),
  ).toBeGreaterThan(0);
  expect(senderKills.reduce((n, r) => n + r.tally.inFlightAtSenderDeath, 0)).toBeGreaterThan(0);
}

async function trials(mode: 'shm' | 'tcp'): Promise<TrialResult[]> {
  const results: TrialResult[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const r = await runKillTrial({ mode, side: i % 2 === 0 ? 'receiver' : 'sender', streamMs: 1500 });
    console.log(
      `${mode} kill ${r.side} at +${r.killAfterMs} ms: sent ${r.tally.sent}, resolved ${r.tally.resolved}, rejected ${JSON.stringify(r.tally.rejected)}, in flight at sender death ${r.tally.inFlightAtSenderDeath}, routes ${JSON.stringify(r.tally.routes)} (${r.ms} ms)`,
    );
    results.push(r);
  }
  return results;
}

describe('kill -9 fault injection through the facade', () => {
  it.skipIf(!shm.available && !process.env.CI)(
    `shared memory: ${TRIALS} trials, sender or receiver SIGKILLed mid-stream`,
    async () => {
      const results = await trials('shm');
      expectClean(results);
      // Shared memory carried part of every stream and most of them all. After a restart the node may fall
      // back to the Unix socket along the selector's order (when the shm setup with the new process fails,
      // as it did once under the full suite's load) until its background retry upgrades it back to shm.
      const routes = results.map((r) => r.tally.routes);
      expect(
        results.every((r) => (r.tally.routes.shm ?? 0) > 0),
        JSON.stringify(routes),
      ).toBe(true);
      const shmTotal = results.reduce((n, r) => n + (r.tally.routes.shm ?? 0), 0);
      const resolvedTotal = results.reduce((n, r) => n + r.tally.resolved, 0);
      expect(shmTotal * 2, JSON.stringify(routes)).toBeGreaterThan(resolvedTotal);
    },
    180_000,
  );

  it('plain send over TCP: what the killed receiver never acknowledged is reported to the sending node', async () => {
    // `send` resolves once the link queued the message. When the receiver dies, the link fails what it
    // still held (E_PEER_GONE / E_CONNECTION, delivery unknown); the node reports it as a NodeEvent of kind
    // 'undelivered' with the count (before that fix the facade dropped the link's report: thousands of
    // resolved sends vanished without a word).
    const r = await runKillTrial({
      mode: 'tcp',
      side: 'receiver',
      api: 'send',
      streamMs: 1500,
      killFromMs: 300,
      killWithinMs: 900,
    });
    console.log(
      `plain send, receiver killed at +${r.killAfterMs} ms: resolved ${r.tally.resolved}, delivered ${r.tally.delivered}, lost ${r.tally.lost}, reported undelivered ${r.tally.reportedUndelivered}`,
    );
    expect(r.tally).toMatchObject({ duplicated: 0, corrupt: 0, unreported: 0 });
    expect(r.tally.lost).toBeGreaterThan(0);
    expect(r.tally.reportedUndelivered).toBeGreaterThan(0);
    expect(r.recovered).toBe(true);
    expect(r.leakedFiles).toEqual([]);
  }, 120_000);

  it.skipIf(!shm.available && !process.env.CI)(
    'shared memory, the killed side never comes back: the survivor reports every message and leaks nothing',
    async () => {
      for (const side of ['receiver', 'sender'] as const) {
        const r = await runKillTrial({ mode: 'shm', side, restart: false, streamMs: 1500 });
        console.log(
          `shm kill ${side} at +${r.killAfterMs} ms, no restart: sent ${r.tally.sent}, rejected ${JSON.stringify(r.tally.rejected)}, dead node's files ${r.deadNodeFiles.join(', ')}`,
        );
        expect(r.problems).toEqual([]);
        expect(r.tally).toMatchObject({ lost: 0, duplicated: 0, corrupt: 0, unreported: 0 });
        expect(r.deadPeerRegionsHeld).toEqual([]);
        expect(r.leakedRegions).toEqual([]);
        expect(r.leakedFiles).toEqual([]);
      }
    },
    120_000,
  );

  it(`TCP: ${TRIALS} trials, sender or receiver SIGKILLed mid-stream`, async () => {
    const results = await trials('tcp');
    expectClean(results);
    expect(
      results.every((r) => (r.tally.routes.tcp ?? 0) > 0 && Object.keys(r.tally.routes).length === 1),
    ).toBe(true);
  }, 180_000);
});
