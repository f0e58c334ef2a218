// Regenerate the TypeScript-written Swift-wire vectors in test-vectors/swift/ts/.
// Run from the repo root: npx tsx packages/codec-swift/scripts/write-vectors.ts
// (the Python-written ones come from: python3 interop/msgpack-check/check.py write test-vectors/swift/python)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageRegistry, sampleMessages } from '@tmesh/core';
import { createSwiftCodec } from '../src/index.js';
import { VECTOR_CASES, VECTOR_DIR, VECTOR_TIMESTAMP } from '../src/test-support/vectors.js';

const codec = createSwiftCodec(
  new MessageRegistry([sampleMessages.FileChunk, sampleMessages.AllTypes, sampleMessages.Metrics]),
);
const dir = join(VECTOR_DIR, 'ts');
mkdirSync(dir, { recursive: true });
for (const c of VECTOR_CASES) {
  const frame = codec.encode(c.type, c.value, {
    sequence: c.sequence,
    timestamp: VECTOR_TIMESTAMP + c.sequence,
  });
  writeFileSync(join(dir, `${c.name}.swft`), frame);
  console.log(`${c.name}.swft  ${frame.length} bytes`);
}
