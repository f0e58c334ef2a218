// Side-by-side encode/decode benchmark of the Swift wire (SWFT frame + CRC-32 + MessagePack) against
// plain msgpackr (`new Packr({ useRecords: false })`) and protobufjs on the same FileChunk data.
// Run from the repo root: npx tsx packages/codec-swift/bench/codec.bench.ts [--quick]
import { MessageRegistry, sampleMessages } from '@tmesh/core';
import { Packr } from 'msgpackr';
import protobuf from 'protobufjs';
import {
  fileChunk as chunk,
  type FileChunkValue as FileChunk,
  interleavedRates,
  median,
} from '../../../test-support/codec-bench.js';
import { compileSwift, createSwiftCodec } from '../src/index.js';

const quick = process.argv.includes('--quick');
const ROUND_MS = quick ? 40 : 100;
const ROUNDS = quick ? 3 : 9;

const codec = createSwiftCodec(new MessageRegistry([sampleMessages.FileChunk]));
const payload = compileSwift(sampleMessages.FileChunk.schema);
const packr = new Packr({ useRecords: false });

const FileChunkProto = new protobuf.Type('FileChunk')
  .add(new protobuf.Field('path', 1, 'string'))
  .add(new protobuf.Field('offset', 2, 'uint64'))
  .add(new protobuf.Field('sequence', 3, 'uint32'))
  .add(new protobuf.Field('last', 4, 'bool'))
  .add(new protobuf.Field('data', 5, 'bytes'));
new protobuf.Root().add(FileChunkProto);

/**
 * Median ops/s of each function. Rounds are interleaved (one round of each in turn, ROUNDS times), so
 * load from other processes on this shared machine hits every implementation alike.
 */
function measureAll(fns: (() => unknown)[]): number[] {
  return interleavedRates(fns, ROUNDS, ROUND_MS).map(median);
}

interface Row {
  name: string;
  bytes: number;
  encode: number;
  decode: number;
}

function fmtRate(ops: number): string {
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)} M`;
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(1)} k`;
  return ops.toFixed(0);
}

function fmtMBs(ops: number, bytes: number): string {
  const mbs = (ops * bytes) / 1e6;
  return mbs >= 1000 ? `${(mbs / 1000).toFixed(2)} GB/s` : `${mbs.toFixed(0)} MB/s`;
}

function runCase(label: string, value: FileChunk): void {
  let sink = 0;
  const frame = codec.encode(sampleMessages.FileChunk, value, { sequence: 1, timestamp: 1_700_000_000_000 });
  const body = payload.encode(value);
  const packed = Uint8Array.from(packr.pack(value));
  const pbMessage = FileChunkProto.fromObject({ ...value, offset: value.offset.toString() });
  const pbBytes = FileChunkProto.encode(pbMessage).finish();

  // Same data everywhere: check each baseline reads back what it wrote.
  const back = packr.unpack(packed) as FileChunk;
  const pbBack = FileChunkProto.toObject(FileChunkProto.decode(pbBytes), { longs: String }) as {
    path: string;
  };
  if (back.path !== value.path || pbBack.path !== value.path) throw new Error('baseline round trip failed');

  const rows: Row[] = [];
  // Interleave implementations round by round so machine noise hits all of them alike.
  const impls: [string, number, () => unknown, () => unknown][] = [
    ['msgpackr (baseline)', packed.length, () => packr.pack(value), () => packr.unpack(packed)],
    [
      'codec-swift frame (SWFT + CRC-32)',
      frame.length,
      () => codec.encode(sampleMessages.FileChunk, value, { sequence: 1, timestamp: 1_700_000_000_000 }),
      () => codec.decode(frame),
    ],
    ['codec-swift payload only', body.length, () => payload.encode(value), () => payload.decode(body)],
    [
      'protobufjs',
      pbBytes.length,
      () => FileChunkProto.encode(pbMessage).finish(),
      () => FileChunkProto.decode(pbBytes),
    ],
  ];
  for (const [name, bytes] of impls) rows.push({ name, bytes, encode: 0, decode: 0 });
  const encodeRates = measureAll(
    impls.map(([, , encode]) => () => {
      sink ^= (encode() as Uint8Array).length;
    }),
  );
  const decodeRates = measureAll(
    impls.map(([, , , decode]) => () => {
      sink ^= decode() ? 1 : 0;
    }),
  );
  rows.forEach((row, i) => {
    row.encode = encodeRates[i]!;
    row.decode = decodeRates[i]!;
  });
  const base = rows[0]!;
  console.log(`\n### ${label}`);
  console.log(
    `Swift-wire frame ${frame.length} bytes (28-byte header + ${body.length}-byte payload); msgpackr ${packed.length} bytes; protobuf ${pbBytes.length} bytes`,
  );
  console.log(
    '| implementation | bytes | encode ops/s | encode MB/s | encode vs msgpackr | decode ops/s | decode MB/s | decode vs msgpackr |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.bytes} | ${fmtRate(r.encode)} | ${fmtMBs(r.encode, r.bytes)} | ${(base.encode / r.encode).toFixed(2)}x time | ${fmtRate(r.decode)} | ${fmtMBs(r.decode, r.bytes)} | ${(base.decode / r.decode).toFixed(2)}x time |`,
    );
  }
  if (sink === 0.5) console.log(sink);
}

console.log(
  `# @tmesh/codec-swift benchmark (node ${process.version}, ${ROUNDS} rounds of ${ROUND_MS} ms, median; "x time" = time per op relative to msgpackr, lower is better)`,
);
runCase('small FileChunk (path "a.txt", 16 data bytes)', chunk(16, 'a.txt'));
runCase('FileChunk with 1 KiB data', chunk(1024, 'photos/2024/IMG_0001.jpg'));
runCase('FileChunk with 1 MiB data', chunk(1024 * 1024, 'photos/2024/IMG_0001.jpg'));
