import type { Infer, MessageType } from '@tmesh/core';
import { sampleMessages } from '@tmesh/core';

/**
 * The cross-language vector cases (internal, not exported). interop/bincode-check/src/lib.rs declares
 * the same values on the Rust side, independently; each side compares what it decodes with its own
 * declaration. Maps are written in sorted key order, the order of Rust's BTreeMap.
 */

type AllTypes = Infer<typeof sampleMessages.schemas.AllTypes>;

/** One vector: file name, frame header fields, message type and value. */
export interface VectorCase {
  name: string;
  sequence: number;
  timestamp: number;
  flags: number;
  type: MessageType<any>;
  value: unknown;
}

const U64_MAX = 0xffffffffffffffffn;

/** The 1 MiB data pattern of `file_chunk_1mib`: byte i is (i * 31 + 7) mod 256. */
export function bigData(): Uint8Array {
  const data = new Uint8Array(1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
  return data;
}

const full: AllTypes = {
  flag: true,
  u8v: 255,
  u16v: 65535,
  u32v: 4294967295,
  u64v: U64_MAX,
  i8v: -128,
  i16v: -32768,
  i32v: -2147483648,
  i64v: -0x8000000000000000n,
  f32v: Number.NaN,
  f64v: Number.POSITIVE_INFINITY,
  text: 'héllo wörld ✓ 🚀 日本',
  blob: new Uint8Array([0, 1, 2, 0xfe, 0xff]),
  maybeText: 'present',
  maybeNumber: U64_MAX,
  numbers: [-1, 0, 1, 2147483647, -2147483648],
  inner: { id: 7, label: 'inner' },
  inners: [
    { id: 1, label: 'a' },
    { id: 2, label: '' },
  ],
  counts: new Map([
    ['alpha', 1n],
    ['beta', U64_MAX],
  ]),
  kind: 'Directory',
  op: { kind: 'Rename', value: { from: 'a', to: 'b' } },
  ops: [
    { kind: 'Noop' },
    { kind: 'Delete', value: { path: '/tmp/x' } },
    { kind: 'Rename', value: { from: 'ü', to: '🚀' } },
    { kind: 'Chmod', value: 0o755 },
  ],
};

const empty: AllTypes = {
  flag: false,
  u8v: 0,
  u16v: 0,
  u32v: 0,
  u64v: 0n,
  i8v: 127,
  i16v: 32767,
  i32v: 2147483647,
  i64v: 0x7fffffffffffffffn,
  f32v: Number.NEGATIVE_INFINITY,
  f64v: Number.NaN,
  text: '',
  blob: new Uint8Array(0),
  maybeText: undefined,
  maybeNumber: undefined,
  numbers: [],
  inner: { id: 0, label: '' },
  inners: [],
  counts: new Map(),
  kind: 'File',
  op: { kind: 'Noop' },
  ops: [],
};

const mixed: AllTypes = {
  flag: true,
  u8v: 1,
  u16v: 258,
  u32v: 0x01020304,
  u64v: 0x0102030405060708n,
  i8v: -1,
  i16v: -2,
  i32v: -3,
  i64v: -1n,
  f32v: Number.POSITIVE_INFINITY,
  f64v: Number.NEGATIVE_INFINITY,
  text: '\uFEFFbom stays, \0 nul and "quotes"',
  blob: new Uint8Array([0x80]),
  maybeText: '',
  maybeNumber: 0n,
  numbers: [42],
  inner: { id: 4294967295, label: 'ünïcødé' },
  inners: [{ id: 3, label: 'c' }],
  counts: new Map([['', 0n]]),
  kind: 'Symlink',
  op: { kind: 'Chmod', value: 4294967295 },
  ops: [{ kind: 'Delete', value: { path: '' } }, { kind: 'Noop' }],
};

/** Every case, in the order of the Rust crate's `cases()`. */
export function vectorCases(): VectorCase[] {
  return [
    {
      name: 'all_types_full',
      sequence: 101,
      timestamp: 1_700_000_000_001,
      flags: 0,
      type: sampleMessages.AllTypes,
      value: full,
    },
    {
      name: 'all_types_empty',
      sequence: 102,
      timestamp: 1_700_000_000_002,
      flags: 0,
      type: sampleMessages.AllTypes,
      value: empty,
    },
    {
      name: 'all_types_mixed',
      sequence: 103,
      timestamp: 1_700_000_000_003,
      flags: 0x10,
      type: sampleMessages.AllTypes,
      value: mixed,
    },
    {
      name: 'file_chunk_small',
      sequence: 104,
      timestamp: 1_700_000_000_004,
      flags: 0,
      type: sampleMessages.FileChunk,
      value: {
        path: 'docs/a.txt',
        offset: 1_234_567_890_123n,
        sequence: 42,
        last: true,
        data: Uint8Array.from({ length: 16 }, (_, i) => i),
      },
    },
    {
      name: 'metrics',
      sequence: 105,
      timestamp: 1_700_000_000_005,
      flags: 0x08,
      type: sampleMessages.Metrics,
      value: {
        node: 'node-1',
        at: 1_700_000_000_000n,
        throughput: 1.25e9,
        latencyMicros: -0,
        counters: new Map([
          ['errors', 0n],
          ['frames', 123_456_789n],
        ]),
      },
    },
    {
      name: 'file_chunk_1mib',
      sequence: 106,
      timestamp: 1_700_000_000_006,
      flags: 0,
      type: sampleMessages.FileChunk,
      value: { path: 'big.bin', offset: 0n, sequence: 0, last: true, data: bigData() },
    },
  ];
}

/** Cases small enough to commit as files under test-vectors/rust/. */
export const COMMITTED_CASES = [
  'all_types_full',
  'all_types_empty',
  'all_types_mixed',
  'file_chunk_small',
  'metrics',
];
