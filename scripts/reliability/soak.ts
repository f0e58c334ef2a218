// The soak (RELIABILITY.md, "Soak"):
//   npx tsx scripts/reliability/soak.ts [--senders 16] [--messages 1000000] [--max-seconds 1800]
//                                       [--window 64] [--routes shm,unix,tcp,tls] [--json out.json]
// Senders are separate processes, each a node of the @tmesh/manager facade, spread round-robin over four
// receivers, one per route: shared memory, Unix socket, TCP, TLS 1.3 with pre-shared keys. Checks per
// sender: order, count and CRC-32 at the receiver; RSS of every process sampled every second, slope over
// the second half. Prints progress every 5 s, then tables; exits 1 on any problem or when the time bound
// is hit.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ROUTES, runSoak } from './soak-lib.js';
import type { SoakRoute } from './soak-peer.js';

const { values } = parseArgs({
  options: {
    senders: { type: 'string', default: '16' },
    messages: { type: 'string', default: '1000000' },
    'max-seconds': { type: 'string', default: '1800' },
    window: { type: 'string', default: '64' },
    routes: { type: 'string', default: ROUTES.join(',') },
    json: { type: 'string' },
  },
});
const senders = Number(values.senders);
const messages = Number(values.messages);
const maxSeconds = Number(values['max-seconds']);
const window = Number(values.window);
const routes = values.routes!.split(',') as SoakRoute[];
if (
  !Number.isInteger(senders) ||
  senders < 1 ||
  senders > 64 ||
  !Number.isInteger(messages) ||
  messages < 1 ||
  messages > 100_000_000 ||
  !(maxSeconds > 0 && maxSeconds <= 24 * 3600) ||
  !Number.isInteger(window) ||
  window < 1 ||
  window > 4096 ||
  !routes.every((r) => ROUTES.includes(r))
) {
  console.error(
    '--senders 1..64, --messages 1..1e8, --max-seconds 1..86400, --window 1..4096, --routes from shm,unix,tcp,tls',
  );
  process.exit(2);
}

console.log(
  `soak: ${senders} senders x ${messages} messages over ${routes.join(', ')} (bound ${maxSeconds} s, load ${(
    await import('node:os')
  )
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')})`,
);
const result = await runSoak({
  senders,
  messages,
  maxSeconds,
  window,
  routes,
  progress: (line) => console.log(line),
});
console.log(
  `\n${result.totalMessages} messages in ${result.seconds.toFixed(1)} s: ${result.rate.toFixed(0)} msg/s delivered in all`,
);
console.log('\nroute  senders  messages    msg/s (at the receiver, 1 s resolution)');
for (const [route, r] of Object.entries(result.perRoute))
  console.log(
    `${route.padEnd(6)} ${String(r.senders).padStart(7)}  ${String(r.messages).padStart(9)}  ${r.rate.toFixed(0).padStart(8)}`,
  );
console.log('\nsender                 route           sent   received  crc  order-errors  seconds');
for (const s of result.perSender)
  console.log(
    `${s.id.padEnd(22)} ${s.route.padEnd(12)} ${String(s.sent).padStart(8)} ${String(s.received).padStart(10)}  ${s.crcOk ? 'ok ' : 'BAD'}  ${String(s.orderErrors).padStart(12)}  ${s.seconds.toFixed(1).padStart(7)}`,
  );
console.log(`\nRSS (flat: ${result.flatBound})`);
console.log(
  'process                samples  first MiB  mid MiB  last MiB  max MiB  slope MiB/min  trend MiB  peak growth MiB  flat',
);
for (const r of result.rss)
  console.log(
    `${r.process.padEnd(22)} ${String(r.samples).padStart(7)}  ${r.firstMiB.toFixed(1).padStart(9)}  ${r.midMiB.toFixed(1).padStart(7)}  ${r.lastMiB.toFixed(1).padStart(8)}  ${r.maxMiB.toFixed(1).padStart(7)}  ${r.slopeMiBPerMin.toFixed(2).padStart(13)}  ${r.growthMiB.toFixed(2).padStart(9)}  ${r.peakGrowthMiB.toFixed(2).padStart(15)}  ${r.flat ? 'yes' : 'NO'}`,
  );
if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
console.log(result.ok ? '\nsoak: ok' : `\nsoak: FAILED\n${result.problems.map((p) => `  ${p}`).join('\n')}`);
process.exit(result.ok ? 0 : 1);
