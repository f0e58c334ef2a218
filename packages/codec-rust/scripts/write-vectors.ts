/**
 * Regenerates the TypeScript-written RUST frames in test-vectors/rust/ts/ (the Rust crate
 * interop/bincode-check decodes them with the real bincode). Run: npx tsx packages/codec-rust/scripts/write-vectors.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageRegistry, sampleMessages } from '@tmesh/core';
import { createRustCodec } from '../src/index.js';
import { COMMITTED_CASES, vectorCases } from '../src/vector-cases.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../test-vectors/rust/ts');
mkdirSync(dir, { recursive: true });
const codec = createRustCodec(
  new MessageRegistry([sampleMessages.FileChunk, sampleMessages.AllTypes, sampleMessages.Metrics]),
);
for (const c of vectorCases()) {
  if (!COMMITTED_CASES.includes(c.name)) continue;
  const frame = codec.encode(c.type, c.value, {
    sequence: c.sequence,
    timestamp: c.timestamp,
    flags: c.flags,
  });
  writeFileSync(join(dir, `${c.name}.bin`), frame);
  console.log(`${c.name}.bin ${frame.length} bytes`);
}
