// kill -9 fault injection over shared memory and TCP, through the @tmesh/manager facade:
//   npx tsx scripts/reliability/faults.ts --trials 100 [--mode shm|tcp|both] [--json out.json]
// Each trial SIGKILLs the sender or the receiver (alternating) at a random moment of a request stream,
// restarts it, and checks: no corrupt or duplicated delivery, every answered message delivered, every
// other message rejected to its (surviving) sender with a code, recovery, and no region or socket left.
// Prints one line per trial and a table per transport and killed side; exits 1 if any check failed.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { addTally, emptyTally, runKillTrial, type TrialResult } from './faults-lib.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'both' },
    json: { type: 'string' },
    side: { type: 'string' },
    'stream-ms': { type: 'string', default: '2500' },
  },
});
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1 || trials > 10_000) {
  console.error('--trials must be an integer from 1 to 10000');
  process.exit(2);
}
const modes = values.mode === 'both' ? (['shm', 'tcp'] as const) : ([values.mode] as ('shm' | 'tcp')[]);
if (!modes.every((m) => m === 'shm' || m === 'tcp')) {
  console.error('--mode is shm, tcp or both');
  process.exit(2);
}

const results: TrialResult[] = [];
const started = Date.now();
for (const mode of modes) {
  for (let i = 0; i < trials; i++) {
    const side = values.side ? (values.side as 'sender' | 'receiver') : i % 2 === 0 ? 'receiver' : 'sender';
    const r = await runKillTrial({ mode, side, streamMs: Number(values['stream-ms']) });
    results.push(r);
    const t = r.tally;
    console.log(
      `${mode} #${i + 1} kill ${side} at +${r.killAfterMs} ms, restart +${r.restartAfterMs} ms: sent ${t.sent} delivered ${t.delivered} resolved ${t.resolved} rejected ${Object.values(t.rejected).reduce((a, b) => a + b, 0)} in-flight-at-death ${t.inFlightAtSenderDeath} lost ${t.lost} dup ${t.duplicated} corrupt ${t.corrupt} unreported ${t.unreported} codes ${JSON.stringify(t.rejected)} recovered ${r.recovered} leaks ${r.leakedRegions.length + r.leakedFiles.length} (${(r.ms / 1000).toFixed(1)} s)${r.problems.length ? `\n  PROBLEMS: ${r.problems.slice(0, 5).join(' | ')}` : ''}`,
    );
  }
}

console.log(
  `\n| transport | killed side | trials | faults survived | sent | delivered | resolved | rejected | in flight at sender death | rejected but delivered | lost | duplicated | corrupt | unreported | recovered | dead-peer regions held | leaked regions / files |`,
);
console.log(`|${'---|'.repeat(17)}`);
const codes: Record<string, number> = {};
for (const mode of modes) {
  for (const side of ['receiver', 'sender'] as const) {
    const rs = results.filter((r) => r.mode === mode && r.side === side);
    if (rs.length === 0) continue;
    const t = rs.reduce((acc, r) => addTally(acc, r.tally), emptyTally());
    for (const [c, n] of Object.entries(t.rejected)) codes[c] = (codes[c] ?? 0) + n;
    const rejected = Object.values(t.rejected).reduce((a, b) => a + b, 0);
    const survived = rs.filter((r) => r.problems.length === 0).length;
    console.log(
      `| ${mode} | ${side} | ${rs.length} | ${survived} | ${t.sent} | ${t.delivered} | ${t.resolved} | ${rejected} | ${t.inFlightAtSenderDeath} | ${t.rejectedButDelivered} | ${t.lost} | ${t.duplicated} | ${t.corrupt} | ${t.unreported} | ${rs.filter((r) => r.recovered).length}/${rs.length} | ${rs.reduce((a, r) => a + r.deadPeerRegionsHeld.length, 0)} | ${rs.reduce((a, r) => a + r.leakedRegions.length, 0)} / ${rs.reduce((a, r) => a + r.leakedFiles.length, 0)} |`,
    );
  }
}
console.log(`\nrejection codes: ${JSON.stringify(codes)}`);
const failed = results.filter((r) => r.problems.length > 0);
console.log(
  `${results.length} trials in ${((Date.now() - started) / 1000).toFixed(0)} s, ${failed.length} with problems`,
);
if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 1)}\n`);
process.exit(failed.length ? 1 : 0);
