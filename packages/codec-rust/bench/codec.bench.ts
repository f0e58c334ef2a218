// Side-by-side encode/decode benchmark of the Rust wire (RUST frame + CRC-32 + bincode 1.x) against
// plain msgpackr (`new Packr({ useRecords: false })`) and protobufjs on the same FileChunk data.
// Run from the repo root: npx tsx packages/codec-rust/bench/codec.bench.ts [--quick]
import { MessageRegistry, sampleMessages } from '@tmesh/core';
import { Packr } from 'msgpackr';
import protobuf from 'protobufjs';
import {
  fileChunk as chunk,
  type FileChunkValue as FileChunk,
  interleavedRates,
  median,
  medianRatio,
} from '../../../test-support/codec-bench.js';
import { compileRust, createRustCodec } from '../src/index.js';

const quick = process.argv.includes('--quick');
const ROUND_MS = quick ? 50 : 200;
const ROUNDS = quick ? 5 : 15;

const codec = createRustCodec(new MessageRegistry([sampleMessages.FileChunk]));
const payloadCodec = compileRust(sampleMessages.schemas.FileChunk);
const packr = new Packr({ useRecords: false });
const FileChunkProto = new protobuf.Type('FileChunk')
  .add(new protobuf.Field('path', 1, 'string'))
  .add(new protobuf.Field('offset', 2, 'uint64'))
  .add(new protobuf.Field('sequence', 3, 'uint32'))
  .add(new protobuf.Field('last', 4, 'bool'))
  .add(new protobuf.Field('data', 5, 'bytes'));
new protobuf.Root().add(FileChunkProto);

interface Row {
  name: string;
  bytes: number;
  fn: () => number;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function table(title: string, rows: Row[]): void {
  // Rows take their rounds in turn (row A, B, C, D, A, B, ...); report the median round of each.
  const rates = interleavedRates(
    rows.map((row) => row.fn),
    ROUNDS,
    ROUND_MS,
  );
  const base = rates[rows.findIndex((r) => r.name.startsWith('msgpackr'))]!;
  console.log(`\n${title}`);
  console.log('| codec | bytes | ops/s | MB/s | vs msgpackr |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [i, row] of rows.entries()) {
    const ops = median(rates[i]!);
    const ratio = medianRatio(rates[i]!, base);
    console.log(
      `| ${row.name} | ${fmt(row.bytes)} | ${fmt(ops)} | ${fmt((ops * row.bytes) / 1e6)} | ${ratio.toFixed(2)}x |`,
    );
  }
}

const sizes: [string, FileChunk][] = [
  ['small', chunk(16, 'a/b.txt')],
  ['1 KiB', chunk(1024, 'files/chunk-0001.bin')],
  ['1 MiB', chunk(1024 * 1024, 'files/chunk-0001.bin')],
];

console.log(
  `@tmesh/codec-rust benchmark, Node ${process.version}, median of ${ROUNDS} interleaved rounds x ${ROUND_MS} ms per row`,
);
console.log(
  "MB/s counts each codec's own encoded bytes; ratios compare ops/s on the same value, median of per-round ratios.",
);

for (const [label, value] of sizes) {
  const frame = codec.encode(sampleMessages.FileChunk, value, { sequence: 1 });
  const payload = payloadCodec.encode(value);
  const packed = packr.pack(value);
  const protoValue = { ...value, offset: Number(value.offset) };
  const proto = FileChunkProto.encode(protoValue).finish();
  console.log(
    `\n### FileChunk ${label}: data ${value.data.length} B; RUST frame ${frame.length} B (bincode payload ${payload.length} B + 32 B header), msgpackr ${packed.length} B, protobuf ${proto.length} B`,
  );
  table(`encode, FileChunk ${label}`, [
    {
      name: 'codec-rust frame (header + CRC-32 + bincode)',
      bytes: frame.length,
      fn: () => codec.encode(sampleMessages.FileChunk, value, { sequence: 1, timestamp: 1 }).length,
    },
    {
      name: 'codec-rust payload only (compileRust)',
      bytes: payload.length,
      fn: () => payloadCodec.encode(value).length,
    },
    { name: 'msgpackr (useRecords: false)', bytes: packed.length, fn: () => packr.pack(value).length },
    { name: 'protobufjs', bytes: proto.length, fn: () => FileChunkProto.encode(protoValue).finish().length },
  ]);
  table(`decode, FileChunk ${label}`, [
    {
      name: 'codec-rust frame (header + CRC-32 + bincode)',
      bytes: frame.length,
      fn: () => (codec.decode(frame).value as FileChunk).sequence,
    },
    {
      name: 'codec-rust payload only (compileRust)',
      bytes: payload.length,
      fn: () => payloadCodec.decode(payload).sequence,
    },
    {
      name: 'msgpackr (useRecords: false)',
      bytes: packed.length,
      fn: () => (packr.unpack(packed) as FileChunk).sequence,
    },
    {
      name: 'protobufjs',
      bytes: proto.length,
      fn: () => (FileChunkProto.decode(proto) as unknown as FileChunk).sequence,
    },
  ]);
}
