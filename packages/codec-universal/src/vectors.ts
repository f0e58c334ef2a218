// Internal: the cross-language test vectors of the universal wire. interop/prost-check (Rust, prost)
// holds the same values written independently in Rust; each side decodes the other's file and compares
// field by field against its own copy. Not exported from the package.
import { FRAME_FLAGS, type MessageType, sampleMessages, type WireEncodeOptions } from '@tmesh/core';
import type { UniversalCodec } from './codec.js';

/** One vector: a message, its value and the envelope fields it is sent with. */
export interface Vector {
  type: MessageType<any>;
  value: unknown;
  options: Required<Pick<WireEncodeOptions, 'sequence' | 'timestamp' | 'flags'>> & WireEncodeOptions;
  /**
   * Whether prost's encoding of the payload is byte-identical to ours. False where a map entry holds a
   * default key or value: protobufjs writes it, prost leaves it out (both read either form).
   */
  canonical: boolean;
}

const U64_MAX = 0xffffffffffffffffn;
const I64_MIN = -0x8000000000000000n;
const I64_MAX = 0x7fffffffffffffffn;
const { AllTypes, FileChunk, Metrics } = sampleMessages;

/** The committed vectors (test-vectors/universal/ts-vectors.bin and rust-vectors.bin), in file order. */
export const vectors: Vector[] = [
  {
    type: AllTypes,
    value: {
      flag: true,
      u8v: 255,
      u16v: 65535,
      u32v: 4294967295,
      u64v: U64_MAX,
      i8v: -128,
      i16v: -32768,
      i32v: -2147483648,
      i64v: I64_MIN,
      f32v: Number.NaN,
      f64v: Number.POSITIVE_INFINITY,
      text: 'héllo wörld ✓ 日本 🚀',
      blob: new Uint8Array([0, 1, 2, 0x7f, 0x80, 0xff]),
      maybeText: 'présent',
      maybeNumber: 0n,
      numbers: [-1, 0, 1, 2147483647, -2147483648],
      inner: { id: 4294967295, label: 'ïnner' },
      inners: [
        { id: 1, label: 'a' },
        { id: 2, label: 'b' },
      ],
      counts: new Map([
        ['a', 1n],
        ['max', U64_MAX],
        ['ü', 42n],
      ]),
      kind: 'Symlink',
      op: { kind: 'Rename', value: { from: '/a', to: '/b' } },
      ops: [
        { kind: 'Noop' },
        { kind: 'Delete', value: { path: '/tmp/x' } },
        { kind: 'Rename', value: { from: 'x', to: 'ß' } },
        { kind: 'Chmod', value: 0o755 },
      ],
    },
    options: {
      sequence: 1,
      timestamp: 1_700_000_000_001,
      flags: FRAME_FLAGS.REQUEST,
      source: 'ts-node',
      destination: 'rust-node',
    },
    canonical: true,
  },
  {
    type: AllTypes,
    value: {
      flag: false,
      u8v: 0,
      u16v: 0,
      u32v: 0,
      u64v: 0n,
      i8v: 0,
      i16v: 0,
      i32v: 0,
      i64v: 0n,
      f32v: Number.NEGATIVE_INFINITY,
      f64v: Number.NaN,
      text: '',
      blob: new Uint8Array(0),
      numbers: [],
      inner: { id: 0, label: '' },
      inners: [],
      counts: new Map(),
      kind: 'File',
      op: { kind: 'Noop' },
      ops: [],
    },
    options: { sequence: 2, timestamp: 1_700_000_000_002, flags: 0 },
    canonical: true,
  },
  {
    type: AllTypes,
    value: {
      flag: true,
      u8v: 1,
      u16v: 300,
      u32v: 70000,
      u64v: 9007199254740993n,
      i8v: 127,
      i16v: 32767,
      i32v: 2147483647,
      i64v: I64_MAX,
      f32v: Number.POSITIVE_INFINITY,
      f64v: Number.NEGATIVE_INFINITY,
      text: 'Ω',
      blob: new Uint8Array([0]),
      maybeText: '',
      maybeNumber: U64_MAX,
      numbers: [7],
      inner: { id: 1, label: 'x' },
      inners: [{ id: 0, label: '' }],
      counts: new Map([['', 0n]]),
      kind: 'Directory',
      op: { kind: 'Delete', value: { path: '' } },
      ops: [{ kind: 'Chmod', value: 4294967295 }],
    },
    options: { sequence: 3, timestamp: 0, flags: FRAME_FLAGS.RESPONSE, source: 'ü' },
    canonical: false,
  },
  {
    type: AllTypes,
    value: {
      flag: false,
      u8v: 128,
      u16v: 256,
      u32v: 1,
      u64v: 1n,
      i8v: -1,
      i16v: -1,
      i32v: -1,
      i64v: -1n,
      f32v: 3.4028234663852886e38,
      f64v: 5e-324,
      text: 'a\u0000b',
      blob: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
      numbers: [0, 0],
      inner: { id: 9, label: 'nine' },
      inners: [],
      counts: new Map([['k', 5n]]),
      kind: 'File',
      op: { kind: 'Chmod', value: 0 },
      ops: [{ kind: 'Noop' }, { kind: 'Delete', value: { path: 'd' } }],
    },
    options: { sequence: 4294967295, timestamp: 9_007_199_254_740_991, flags: 0, destination: 'rust-node' },
    canonical: true,
  },
  {
    type: FileChunk,
    value: {
      path: 'dir/ファイル.bin',
      offset: 4294967296n,
      sequence: 3,
      last: true,
      data: Uint8Array.from({ length: 16 }, (_, i) => i),
    },
    options: { sequence: 5, timestamp: 1_700_000_000_005, flags: 0, source: 'ts-node' },
    canonical: true,
  },
  {
    type: Metrics,
    value: {
      node: 'node-α',
      at: 1_700_000_000_000n,
      throughput: 1.5e9,
      latencyMicros: 0.25,
      counters: new Map([
        ['dropped', 0n],
        ['sent', 10n],
      ]),
    },
    options: { sequence: 6, timestamp: 1_700_000_000_006, flags: 0 },
    canonical: false,
  },
];

/** Size of the big vector's data: 1 MiB. */
export const BIG_SIZE = 1024 * 1024;

/** The 1 MiB FileChunk vector (generated at test time on both sides, never committed). */
export function bigVector(): Vector {
  const data = new Uint8Array(BIG_SIZE);
  for (let i = 0; i < BIG_SIZE; i++) data[i] = (i * 131 + 7) & 0xff;
  return {
    type: FileChunk,
    value: { path: 'big.bin', offset: 1048576n, sequence: 7, last: false, data },
    options: {
      sequence: 7,
      timestamp: 1_700_000_000_007,
      flags: 0,
      source: 'ts-node',
      destination: 'rust-node',
    },
    canonical: true,
  };
}

/** Encode vectors back to back, as one length-delimited stream. */
export function encodeVectors(codec: UniversalCodec, list: readonly Vector[] = vectors): Uint8Array {
  return Buffer.concat(list.map((v) => codec.encode(v.type, v.value, v.options)));
}

/** The header comment of test-vectors/universal/samples.proto. */
export const SAMPLES_HEADER =
  'The sample messages of @tmesh/core (sampleMessages) as proto3, printed by toProtoSource() of\n' +
  '@tmesh/codec-universal. Regenerate: npx tsx packages/codec-universal/scripts/write-vectors.ts';
