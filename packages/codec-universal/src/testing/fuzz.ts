// Internal: the fuzz driver shared by fuzz.test.ts (a few thousand inputs in CI) and fuzz/fuzz.ts
// (>= 100k inputs by hand). Random and mutated frames and payloads go through every decoder; anything
// thrown that is not a TmeshError is a finding.
import * as zlib from 'node:zlib';
import { isTmeshError, MessageRegistry, type MessageType, sampleMessages } from '@tmesh/core';
import { xorshift32 } from '../../../../test-support/prng.js';
import { createUniversalCodec } from '../codec.js';
import { compileUniversal } from '../payload.js';
import { vectors } from '../vectors.js';
import { delimited, rawMessage } from './arbitrary.js';

/** What a fuzz run saw: inputs tried, outcomes by error code (`ok` = decoded), and foreign throws. */
export interface FuzzReport {
  inputs: number;
  byCode: Record<string, number>;
  foreign: { input: string; error: string }[];
  millis: number;
}

const { AllTypes, FileChunk, Metrics } = sampleMessages;

/** Run `count` fuzz inputs (spread over five kinds of input) with the given seed. */
export function fuzzUniversal(count: number, seed = 1): FuzzReport {
  const random = xorshift32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const registry = new MessageRegistry([AllTypes, FileChunk, Metrics]);
  const codec = createUniversalCodec(registry, { maxFrameSize: 1 << 20 });
  const frames = vectors.map((v) => codec.encode(v.type, v.value, v.options));
  const payloads = vectors.map((v) => ({
    type: v.type,
    bytes: compileUniversal(v.type.schema).encode(v.value as never),
  }));
  const report: FuzzReport = { inputs: 0, byCode: {}, foreign: [], millis: 0 };
  const started = performance.now();

  const mutate = (input: Uint8Array): Uint8Array => {
    let b = Uint8Array.from(input);
    const edits = 1 + int(4);
    for (let e = 0; e < edits; e++) {
      const op = int(7);
      const at = int(b.length + 1);
      if (op === 0 && b.length) b[at % b.length]! ^= 1 << int(8);
      else if (op === 1 && b.length) b[at % b.length] = int(256);
      else if (op === 2) b = b.subarray(0, at);
      else if (op === 3)
        b = Uint8Array.from([
          ...b.subarray(0, at),
          ...Array.from({ length: 1 + int(12) }, () => int(256)),
          ...b.subarray(at),
        ]);
      else if (op === 4 && b.length) b[at % b.length] = [0, 1, 0x7f, 0x80, 0xff][int(5)]!;
      else if (op === 5) b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(int(b.length + 1))]);
      else b = Uint8Array.from([...b, ...b.subarray(0, int(b.length + 1))]);
    }
    return b;
  };

  const record = (input: Uint8Array, run: () => void) => {
    report.inputs++;
    try {
      run();
      report.byCode.ok = (report.byCode.ok ?? 0) + 1;
    } catch (error) {
      if (isTmeshError(error)) report.byCode[error.code] = (report.byCode[error.code] ?? 0) + 1;
      else if (report.foreign.length < 20)
        report.foreign.push({ input: Buffer.from(input).toString('hex'), error: String(error) });
      else report.foreign.length++;
    }
  };

  for (let i = 0; i < count; i++) {
    const kind = i % 5;
    if (kind === 0) {
      // Random bytes, sometimes behind a plausible length prefix.
      const body = Uint8Array.from({ length: int(96) }, () => int(256));
      const input = random() < 0.5 ? delimited(body) : body;
      record(input, () => codec.decode(input));
    } else if (kind === 1) {
      // A valid frame, mutated.
      const input = mutate(frames[int(frames.length)]!);
      record(input, () => codec.decode(input));
    } else if (kind === 2) {
      // A mutated payload inside an envelope with a correct CRC: reaches the payload decoder.
      const p = payloads[int(payloads.length)]!;
      const body = mutate(p.bytes);
      const input = delimited(
        rawMessage([
          [1, 0, 1],
          [8, 2, (p.type as MessageType<unknown>).name],
          [10, 5, zlib.crc32(body)],
          [11, 2, body],
        ]),
      );
      record(input, () => codec.decode(input));
    } else if (kind === 3) {
      // A mutated payload straight into its compiled decoder.
      const p = payloads[int(payloads.length)]!;
      const input = mutate(p.bytes);
      record(input, () => compileUniversal(p.type.schema).decode(input));
    } else {
      // A mutated stream of several frames, pushed in random pieces.
      const stream = Buffer.concat([
        frames[int(frames.length)]!,
        frames[int(frames.length)]!,
        frames[int(frames.length)]!,
      ]);
      const input = random() < 0.7 ? mutate(stream) : stream;
      record(input, () => {
        const d = codec.createDecoder({ maxFrameSize: 1 << 16 });
        for (let pos = 0; pos < input.length; ) {
          const n = 1 + int(40);
          d.push(input.subarray(pos, pos + n));
          pos += n;
        }
        d.end();
      });
    }
  }
  report.millis = performance.now() - started;
  return report;
}
