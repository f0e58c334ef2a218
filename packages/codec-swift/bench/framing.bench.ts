// Where the time of one small-frame decode and encode goes: the @tmesh/core frame helpers, the CRC-32
// and the payload codec, next to msgpackr's whole unpack/pack of the same object.
// Run from the repo root: npx tsx packages/codec-swift/bench/framing.bench.ts
import {
  crc32,
  MessageRegistry,
  openFrame,
  readFrameHeader,
  SWIFT_FRAME,
  sampleMessages,
  sealFrame,
} from '@tmesh/core';
import { Packr } from 'msgpackr';
import { compileSwift, createSwiftCodec } from '../src/index.js';

const codec = createSwiftCodec(new MessageRegistry([sampleMessages.FileChunk]));
const payloadCodec = compileSwift(sampleMessages.FileChunk.schema);
const value = {
  path: 'a.txt',
  offset: 1_048_576n,
  sequence: 42,
  last: false,
  data: new Uint8Array(16).fill(3),
};
const frame = codec.encode(sampleMessages.FileChunk, value, { sequence: 1, timestamp: 1_700_000_000_000 });
const payload = frame.subarray(SWIFT_FRAME.headerSize);
const scratch = frame.slice();
const packr = new Packr({ useRecords: false });
const packed = packr.pack(value);

/** ns per call of `fn` over `n` calls. */
function timeCalls(fn: () => unknown, n: number): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - start) * 1e6) / n;
}

const rows: [string, () => unknown][] = [
  ['msgpackr unpack (whole decode, baseline)', () => packr.unpack(packed)],
  ['codec.decode (frame)', () => codec.decode(frame)],
  ['  openFrame (core)', () => openFrame(SWIFT_FRAME, frame)],
  ['    readFrameHeader (core)', () => readFrameHeader(SWIFT_FRAME, frame)],
  [`    crc32 of the ${payload.length}-byte payload (core)`, () => crc32(payload)],
  ['  payload decode (compileSwift)', () => payloadCodec.decode(payload)],
  ['msgpackr pack (whole encode, baseline)', () => packr.pack(value)],
  [
    'codec.encode (frame)',
    () => codec.encode(sampleMessages.FileChunk, value, { sequence: 1, timestamp: 5 }),
  ],
  [
    '  sealFrame (core)',
    () => sealFrame(SWIFT_FRAME, scratch, { messageType: 1, sequence: 1, timestamp: 5 }),
  ],
  ['  payload encode (compileSwift)', () => payloadCodec.encode(value)],
];
// Rounds are interleaved (every row once per round) so load from other processes hits all rows alike.
for (const [, fn] of rows) timeCalls(fn, 300_000);
const samples: number[][] = rows.map(() => []);
for (let r = 0; r < 9; r++) {
  for (let i = 0; i < rows.length; i++) samples[i]!.push(timeCalls(rows[i]![1], 200_000));
}
console.log(
  `# small FileChunk: ${frame.length}-byte frame, ${payload.length}-byte payload; median ns per call of 9 interleaved rounds`,
);
rows.forEach(([name], i) => {
  const ns = samples[i]!.sort((a, b) => a - b)[4]!;
  console.log(`${name.padEnd(44)} ${ns.toFixed(0).padStart(5)} ns`);
});
