// The README's first command ends here: start TypeScript and Rust nodes as separate processes, send
// real traffic over every route, and print what the selector chose, why, and what it measured beside a
// plain gRPC baseline. Options: --quick, --no-rust, --no-netns, --out <dir> (same as `tmesh demo`).
import { renderRouteTable, runDemo } from '@tmesh/manager';

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const started = Date.now();
const report = await runDemo({
  quick: args.includes('--quick'),
  netns: !args.includes('--no-netns'),
  ...(args.includes('--no-rust') ? { rustPeer: false as const } : {}),
  ...(outIndex >= 0 && args[outIndex + 1] ? { outDir: args[outIndex + 1]! } : {}),
});
console.log(`\n${renderRouteTable(report)}\n`);
console.log(`demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (report.routes.some((r) => r.error || !r.verified)) process.exitCode = 1;
