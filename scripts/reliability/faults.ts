// Fault injection through the @tmesh/manager facade (RELIABILITY.md, "Fault injection"):
//   npx tsx scripts/reliability/faults.ts --trials 100 [--mode shm|tcp|both] [--side sender|receiver]
//                                         [--net N] [--api request|send] [--no-restart] [--restart-within-ms N] [--json out.json]
// kill -9: each trial SIGKILLs the sender or the receiver (alternating) at a random moment of a request
// stream, restarts it, and checks: no corrupt or duplicated delivery, every answered message delivered,
// every other message rejected to its (surviving) sender with a code, recovery, and no region or socket
// left. --net N (root): N rounds of a partition, random loss and a tbf link between two network
// namespaces, and etcd stopped (SIGTERM, SIGKILL) and restarted under running nodes, with the same checks.
// --no-restart leaves the killed side dead: the survivor must still report every message and leak
// nothing (the dead node's own socket file stays until a node of its id starts; counted apart).
// --api send measures plain `node.send` instead of requests: it resolves when the transport accepted a
// message, so what a kill loses after that shows up as "lost" (RELIABILITY.md explains).
// Prints one line per trial and tables; exits 1 if any check failed.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { addTally, emptyTally, runKillTrial, type Tally, type TrialResult } from './faults-lib.js';
import {
  etcdSkipReason,
  faultsPair,
  type NetFault,
  netFaultsSkipReason,
  runEtcdScenario,
  runNetScenario,
} from './faults-net.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'both' },
    json: { type: 'string' },
    side: { type: 'string' },
    net: { type: 'string', default: '0' },
    api: { type: 'string', default: 'request' },
    'no-restart': { type: 'boolean', default: false },
    'restart-within-ms': { type: 'string', default: '400' },
    'stream-ms': { type: 'string', default: '2500' },
  },
});
const trials = Number(values.trials);
const netRounds = Number(values.net);
if (
  !Number.isInteger(trials) ||
  trials < 0 ||
  trials > 10_000 ||
  !Number.isInteger(netRounds) ||
  netRounds < 0 ||
  netRounds > 1000
) {
  console.error('--trials must be an integer from 0 to 10000, --net from 0 to 1000');
  process.exit(2);
}
const modes = values.mode === 'both' ? (['shm', 'tcp'] as const) : ([values.mode] as ('shm' | 'tcp')[]);
if (!modes.every((m) => m === 'shm' || m === 'tcp')) {
  console.error('--mode is shm, tcp or both');
  process.exit(2);
}

const results: TrialResult[] = [];
const started = Date.now();
for (const mode of trials > 0 ? modes : []) {
  for (let i = 0; i < trials; i++) {
    const side = values.side ? (values.side as 'sender' | 'receiver') : i % 2 === 0 ? 'receiver' : 'sender';
    const r = await runKillTrial({
      mode,
      side,
      streamMs: Number(values['stream-ms']),
      api: values.api === 'send' ? 'send' : 'request',
      restart: !values['no-restart'],
      restartWithinMs: Number(values['restart-within-ms']),
    });
    results.push(r);
    const t = r.tally;
    console.log(
      `${mode} #${i + 1} kill ${side} at +${r.killAfterMs} ms, restart +${r.restartAfterMs} ms: sent ${t.sent} delivered ${t.delivered} resolved ${t.resolved} rejected ${Object.values(t.rejected).reduce((a, b) => a + b, 0)} in-flight-at-death ${t.inFlightAtSenderDeath} lost ${t.lost} dup ${t.duplicated} corrupt ${t.corrupt} unreported ${t.unreported} reported-undelivered ${t.reportedUndelivered} codes ${JSON.stringify(t.rejected)} recovered ${r.restart ? r.recovered : 'n/a'} dead-node-files ${r.deadNodeFiles.length} leaks ${r.leakedRegions.length + r.leakedFiles.length} stale-reclaimed ${r.reclaimedStale.length} close ${r.closeMs} ms (${(r.ms / 1000).toFixed(1)} s)${r.problems.length ? `\n  PROBLEMS: ${r.problems.slice(0, 5).join(' | ')}` : ''}`,
    );
  }
}

if (trials > 0) {
  console.log(
    `\n| transport | killed side | trials | faults survived | sent | delivered | resolved | rejected | in flight at sender death | rejected but delivered | lost | reported undelivered | duplicated | corrupt | unreported | recovered | dead-peer regions held | stale regions reclaimed | dead node's socket file | leaked regions / files |`,
  );
  console.log(`|${'---|'.repeat(20)}`);
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
        `| ${mode} | ${side} | ${rs.length} | ${survived} | ${t.sent} | ${t.delivered} | ${t.resolved} | ${rejected} | ${t.inFlightAtSenderDeath} | ${t.rejectedButDelivered} | ${t.lost} | ${t.reportedUndelivered} | ${t.duplicated} | ${t.corrupt} | ${t.unreported} | ${values['no-restart'] ? 'n/a' : `${rs.filter((r) => r.recovered).length}/${rs.length}`} | ${rs.reduce((a, r) => a + r.deadPeerRegionsHeld.length, 0)} | ${rs.reduce((a, r) => a + r.reclaimedStale.length, 0)} | ${rs.reduce((a, r) => a + r.deadNodeFiles.length, 0)} | ${rs.reduce((a, r) => a + r.leakedRegions.length, 0)} / ${rs.reduce((a, r) => a + r.leakedFiles.length, 0)} |`,
      );
    }
  }
  console.log(`\nrejection codes: ${JSON.stringify(codes)}`);
}

// Network faults and etcd restarts.
interface NetRow {
  name: string;
  tally: Tally;
  recovered: boolean;
  problems: string[];
  ms: number;
}
const netResults: NetRow[] = [];
if (netRounds > 0) {
  const skip = netFaultsSkipReason() ?? etcdSkipReason();
  if (skip) {
    console.error(`--net: ${skip}`);
    process.exit(2);
  }
  const faults: NetFault[] = [
    { kind: 'partition', afterMs: 1000, holdMs: 5000 },
    { kind: 'loss', percent: 15, afterMs: 500, holdMs: 4000 },
    { kind: 'tbf', rate: '256kbit', afterMs: 500, holdMs: 4000 },
  ];
  const pair = faultsPair();
  try {
    pair.setup();
    for (let i = 0; i < netRounds; i++) {
      for (const fault of faults) {
        const r = await runNetScenario(pair, fault, fault.kind === 'partition' ? 8000 : 6000);
        netResults.push(r);
        console.log(
          `${r.name} #${i + 1}: sent ${r.tally.sent} resolved ${r.tally.resolved} rejected ${JSON.stringify(r.tally.rejected)} rejected-but-delivered ${r.tally.rejectedButDelivered} lost ${r.tally.lost} dup ${r.tally.duplicated} corrupt ${r.tally.corrupt} unreported ${r.tally.unreported}; during the fault ${r.duringFault.resolved} resolved, ${r.duringFault.rejected} rejected; recovered ${r.recovered} (${(r.ms / 1000).toFixed(1)} s)${r.problems.length ? `\n  PROBLEMS: ${r.problems.slice(0, 5).join(' | ')}` : ''}`,
        );
      }
      const e = await runEtcdScenario();
      netResults.push({ name: 'etcd', ...e });
      console.log(
        `etcd #${i + 1}: sent ${e.tally.sent} resolved ${e.tally.resolved} rejected ${JSON.stringify(e.tally.rejected)} rediscovered ${JSON.stringify(e.rediscovered)} recovered ${e.recovered} (${(e.ms / 1000).toFixed(1)} s)${e.problems.length ? `\n  PROBLEMS: ${e.problems.slice(0, 5).join(' | ')}` : ''}`,
      );
    }
  } finally {
    for (const f of pair.dispose()) console.error(f);
  }
  console.log(
    '\n| fault | rounds | survived | sent | resolved | rejected | rejected but delivered | lost | duplicated | corrupt | unreported | recovered |',
  );
  console.log(`|${'---|'.repeat(12)}`);
  for (const name of ['partition', 'loss', 'tbf', 'etcd']) {
    const rs = netResults.filter((r) => r.name === name);
    const t = rs.reduce((acc, r) => addTally(acc, r.tally), emptyTally());
    console.log(
      `| ${name} | ${rs.length} | ${rs.filter((r) => r.problems.length === 0).length} | ${t.sent} | ${t.resolved} | ${Object.values(t.rejected).reduce((a, b) => a + b, 0)} ${JSON.stringify(t.rejected)} | ${t.rejectedButDelivered} | ${t.lost} | ${t.reportedUndelivered} | ${t.duplicated} | ${t.corrupt} | ${t.unreported} | ${values['no-restart'] ? 'n/a' : `${rs.filter((r) => r.recovered).length}/${rs.length}`} |`,
    );
  }
}

const failed = [...results, ...netResults].filter((r) => r.problems.length > 0);
console.log(
  `\n${results.length} kill trials and ${netResults.length} network/etcd scenarios in ${((Date.now() - started) / 1000).toFixed(0)} s, ${failed.length} with problems`,
);
if (values.json)
  writeFileSync(values.json, `${JSON.stringify({ kill: results, net: netResults }, null, 1)}\n`);
process.exit(failed.length ? 1 : 0);
