// Regenerate the TypeScript-written vectors of the universal wire and the sample .proto:
//   npx tsx packages/codec-universal/scripts/write-vectors.ts
// (rust-vectors.bin is written by Rust: cargo run --release -p prost-check -- write-vectors <file>).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageRegistry, sampleMessages } from '@tmesh/core';
import { createUniversalCodec, ENVELOPE_PROTO, toProtoSource } from '../src/index.js';
import { encodeVectors, SAMPLES_HEADER } from '../src/vectors.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../test-vectors/universal');
const { AllTypes, FileChunk, Metrics } = sampleMessages;
const codec = createUniversalCodec(new MessageRegistry([AllTypes, FileChunk, Metrics]));

writeFileSync(
  join(dir, 'samples.proto'),
  toProtoSource([AllTypes, FileChunk, Metrics], { header: SAMPLES_HEADER }),
);
writeFileSync(join(dir, 'envelope.proto'), ENVELOPE_PROTO);
const bytes = encodeVectors(codec);
writeFileSync(join(dir, 'ts-vectors.bin'), bytes);
console.log(`wrote samples.proto, envelope.proto and ts-vectors.bin (${bytes.length} bytes) to ${dir}`);
