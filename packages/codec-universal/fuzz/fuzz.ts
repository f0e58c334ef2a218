// Fuzz the universal wire decoders: npx tsx packages/codec-universal/fuzz/fuzz.ts [count] [seed]
// Default 200,000 inputs. Prints the count per outcome; exits 1 if anything but a TmeshError was thrown.
import { fuzzUniversal } from '../src/testing/fuzz.js';

const count = Number(process.argv[2] ?? 200_000);
const seed = Number(process.argv[3] ?? Date.now() % 0x7fffffff);
const report = fuzzUniversal(count, seed);
console.log(
  `@tmesh/codec-universal fuzz: ${report.inputs} inputs, seed ${seed}, ${(report.millis / 1000).toFixed(1)} s`,
);
for (const [code, n] of Object.entries(report.byCode).sort((a, b) => b[1] - a[1]))
  console.log(`  ${code.padEnd(24)} ${n}`);
if (report.foreign.length > 0 || report.byCode.E_INTERNAL) {
  console.log(`NOT TmeshError: ${report.foreign.length}`);
  for (const f of report.foreign.slice(0, 20)) console.log(`  ${f.error}\n    input ${f.input}`);
  process.exit(1);
}
console.log('  other exceptions         0');
