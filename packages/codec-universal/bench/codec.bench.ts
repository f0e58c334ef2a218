// Side-by-side benchmark of the universal wire: npx tsx packages/codec-universal/bench/codec.bench.ts
// Encode and decode of a FileChunk with 16 B, 1 KiB and 1 MiB of data, as a whole frame (envelope,
// CRC-32, varint prefix) and as a bare payload, against plain protobufjs (bare message, and the same
// message inside the same Envelope, written and read the protobufjs way) and plain msgpackr.
// Candidates run interleaved in rounds: ops/s is the median round, the ratio the median of the per-round
// ratios to protobufjs + Envelope (robust to the load of a shared machine).
import { crc32, MessageRegistry, sampleMessages } from '@tmesh/core';
import { Packr } from 'msgpackr';
import protobuf from 'protobufjs';
import { compileUniversal, createUniversalCodec, ENVELOPE_PROTO, toProtoSource } from '../src/index.js';

const { FileChunk } = sampleMessages;
const codec = createUniversalCodec(new MessageRegistry([FileChunk]));
const payloadCodec = compileUniversal(FileChunk.schema);
const root = protobuf.parse(
  `${toProtoSource([FileChunk])}\n${ENVELOPE_PROTO.replace(/^[\s\S]*?message Envelope/m, 'message Envelope')}`,
  { keepCase: true },
).root;
const PbChunk = root.lookupType('tmesh.FileChunk');
const PbEnvelope = root.lookupType('tmesh.Envelope');
const packr = new Packr({ useRecords: false });
const Long = protobuf.util.Long as unknown as {
  fromNumber(value: number, unsigned?: boolean): protobuf.Long;
};

type Case = { name: string; run: () => unknown; bytes: number };

function measure(run: () => unknown, millis: number): number {
  // Calibrate a batch to ~1/10 of the slot, then count batches until the slot ends.
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) run();
    const dt = performance.now() - t0;
    if (dt > millis / 10 || batch > 1e7) break;
    batch *= 2;
  }
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < millis) {
    for (let i = 0; i < batch; i++) run();
    ops += batch;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function bench(title: string, cases: Case[], rounds: number, slot: number): void {
  for (const c of cases) measure(c.run, slot / 2); // warm up
  const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) for (const c of cases) results.get(c.name)!.push(measure(c.run, slot));
  // The ratio is taken within each round (same machine state), then the median over rounds.
  const base = results.get(cases[cases.length - 2]!.name)!;
  console.log(`\n${title}`);
  console.log(
    `  ${'candidate'.padEnd(44)} ${'bytes'.padStart(8)} ${'ops/s'.padStart(12)} ${'MB/s'.padStart(9)}  vs protobufjs+envelope`,
  );
  for (const c of cases) {
    const runs = results.get(c.name)!;
    const ops = median(runs);
    const ratio = median(runs.map((x, r) => x / base[r]!));
    console.log(
      `  ${c.name.padEnd(44)} ${String(c.bytes).padStart(8)} ${Math.round(ops).toLocaleString('en-US').padStart(12)} ${((ops * c.bytes) / 1e6).toFixed(1).padStart(9)}  ${ratio.toFixed(2)}x`,
    );
  }
}

const quick = process.argv.includes('--quick');
for (const [label, size] of [
  ['16 B data', 16],
  ['1 KiB data', 1024],
  ['1 MiB data', 1024 * 1024],
] as const) {
  const data = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
  const value = { path: 'f/a.bin', offset: 4096n, sequence: 1, last: false, data };
  const options = { sequence: 1, timestamp: 1_700_000_000_000 };
  const pbValue = { path: 'f/a.bin', offset: Long.fromNumber(4096, true), sequence: 1, last: false, data };
  const mpValue = { path: 'f/a.bin', offset: 4096, sequence: 1, last: false, data };

  const frame = codec.encode(FileChunk, value, options);
  const payload = payloadCodec.encode(value);
  const pbBare = PbChunk.encode(pbValue).finish();
  const pbEnvelope = () => {
    const inner = PbChunk.encode(pbValue).finish();
    return PbEnvelope.encodeDelimited({
      version: 1,
      message_type: 1,
      sequence: 1,
      timestamp: Long.fromNumber(1_700_000_000_000, true),
      type_name: 'tmesh.FileChunk',
      checksum: crc32(inner),
      payload: inner,
    }).finish();
  };
  const pbFrame = pbEnvelope();
  const mp = packr.pack(mpValue);
  const rounds = quick ? 3 : size > 100_000 ? 7 : 9;
  const slot = quick ? 100 : 250;
  console.log(
    `\n== FileChunk, ${label}: universal frame ${frame.length} B (payload ${payload.length} B), protobufjs bare ${pbBare.length} B, msgpackr ${mp.length} B`,
  );
  bench(
    `encode, ${label}`,
    [
      {
        name: '@tmesh/codec-universal frame (envelope+CRC)',
        run: () => codec.encode(FileChunk, value, options),
        bytes: frame.length,
      },
      {
        name: '@tmesh/codec-universal payload only',
        run: () => payloadCodec.encode(value),
        bytes: payload.length,
      },
      { name: 'protobufjs bare message', run: () => PbChunk.encode(pbValue).finish(), bytes: pbBare.length },
      { name: 'protobufjs message + Envelope (+CRC)', run: pbEnvelope, bytes: pbFrame.length },
      { name: 'msgpackr (useRecords: false)', run: () => packr.pack(mpValue), bytes: mp.length },
    ],
    rounds,
    slot,
  );
  bench(
    `decode, ${label}`,
    [
      {
        name: '@tmesh/codec-universal frame (envelope+CRC)',
        run: () => codec.decode(frame),
        bytes: frame.length,
      },
      {
        name: '@tmesh/codec-universal payload only',
        run: () => payloadCodec.decode(payload),
        bytes: payload.length,
      },
      { name: 'protobufjs bare message', run: () => PbChunk.decode(pbBare), bytes: pbBare.length },
      {
        name: 'protobufjs message + Envelope (+CRC)',
        run: () => {
          const env = PbEnvelope.decodeDelimited(pbFrame) as unknown as {
            payload: Uint8Array;
            checksum: number;
          };
          if (crc32(env.payload) !== env.checksum) throw new Error('crc');
          return PbChunk.decode(env.payload);
        },
        bytes: pbFrame.length,
      },
      { name: 'msgpackr (useRecords: false)', run: () => packr.unpack(mp), bytes: mp.length },
    ],
    rounds,
    slot,
  );
}
