// The cross-language test vectors of the Swift wire, as TypeScript values. The Python checker
// (interop/msgpack-check/check.py) holds its own copy of the same values, written independently.
import { fileURLToPath } from 'node:url';
import { type Infer, type MessageType, sampleMessages } from '@tmesh/core';

type AllTypes = Infer<typeof sampleMessages.schemas.AllTypes>;
type FileChunk = Infer<typeof sampleMessages.schemas.FileChunk>;
type Metrics = Infer<typeof sampleMessages.schemas.Metrics>;

/** Where the committed vectors live: test-vectors/swift/{ts,python}/<name>.swft. */
export const VECTOR_DIR = fileURLToPath(new URL('../../../../test-vectors/swift/', import.meta.url));
/** The Python checker that decodes our frames and writes its own. */
export const PYTHON_CHECKER = fileURLToPath(
  new URL('../../../../interop/msgpack-check/check.py', import.meta.url),
);

/** Header values every vector frame uses (timestamp base; sequence is the case number). */
export const VECTOR_TIMESTAMP = 1_700_000_000_000;

/** One vector: a message type, a value and the header sequence number. */
export interface VectorCase {
  name: string;
  type: MessageType<any>;
  sequence: number;
  value: unknown;
}

const U64_MAX = 0xffffffffffffffffn;
const I64_MIN = -0x8000000000000000n;
const I64_MAX = 0x7fffffffffffffffn;

const present: AllTypes = {
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
  text: 'héllo wörld ✓ 日本 😀',
  blob: Uint8Array.of(0, 1, 2, 0x7f, 0x80, 0xff),
  maybeText: 'present',
  maybeNumber: 9007199254740993n,
  numbers: [0, -1, 127, 128, -32, -33, 255, 256, -128, -129, 65535, 65536, 2147483647, -2147483648],
  inner: { id: 7, label: 'inner' },
  inners: [
    { id: 1, label: 'a' },
    { id: 4294967295, label: 'ü' },
  ],
  counts: new Map([
    ['zero', 0n],
    ['two32', 4294967296n],
    ['max', U64_MAX],
  ]),
  kind: 'Directory',
  op: { kind: 'Delete', value: { path: '/tmp/x' } },
  ops: [
    { kind: 'Noop' },
    { kind: 'Delete', value: { path: 'a' } },
    { kind: 'Rename', value: { from: 'old name', to: 'new näme' } },
    { kind: 'Chmod', value: 493 },
  ],
};

const absent: AllTypes = {
  flag: false,
  u8v: 0,
  u16v: 0,
  u32v: 0,
  u64v: 0n,
  i8v: 127,
  i16v: 32767,
  i32v: 2147483647,
  i64v: I64_MAX,
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
};

const variants: AllTypes = {
  ...absent,
  f32v: Number.POSITIVE_INFINITY,
  f64v: Number.NEGATIVE_INFINITY,
  u64v: 4294967296n,
  i64v: -1n,
  kind: 'Symlink',
  op: { kind: 'Rename', value: { from: '', to: 'x' } },
  ops: [
    { kind: 'Chmod', value: 0 },
    { kind: 'Chmod', value: 4294967295 },
  ],
  maybeNumber: 0n,
};

const floats: AllTypes = {
  ...absent,
  f32v: 1.5,
  f64v: -0.1,
  u64v: 18446744073709551614n,
  i64v: -4294967297n,
  i32v: -33,
  i16v: -129,
  i8v: -32,
  op: { kind: 'Chmod', value: 420 },
  maybeText: '',
};

const fileChunk: FileChunk = {
  path: 'docs/readme.md',
  offset: 65536n,
  sequence: 3,
  last: true,
  data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
};

const metrics: Metrics = {
  node: 'node-ü-1',
  at: 1_700_000_000_123n,
  throughput: 1234.5,
  latencyMicros: 0.25,
  counters: new Map([
    ['sent', 10n],
    ['dropped', 0n],
  ]),
};

/** The committed vectors (small). */
export const VECTOR_CASES: readonly VectorCase[] = [
  { name: 'alltypes_present', type: sampleMessages.AllTypes, sequence: 1, value: present },
  { name: 'alltypes_absent', type: sampleMessages.AllTypes, sequence: 2, value: absent },
  { name: 'alltypes_variants', type: sampleMessages.AllTypes, sequence: 3, value: variants },
  { name: 'alltypes_floats', type: sampleMessages.AllTypes, sequence: 4, value: floats },
  { name: 'filechunk_small', type: sampleMessages.FileChunk, sequence: 5, value: fileChunk },
  { name: 'metrics', type: sampleMessages.Metrics, sequence: 6, value: metrics },
];

/**
 * Written only by the Python side: `alltypes_present` with its keys in reverse order and an extra key a
 * newer Swift struct might carry. Decodes to the same value.
 */
export const PYTHON_ONLY_CASES: readonly VectorCase[] = [
  { name: 'alltypes_reordered_extra_key', type: sampleMessages.AllTypes, sequence: 7, value: present },
];

/** The 1 MiB case, generated at test time on both sides (never committed). */
export function bigChunkCase(): VectorCase {
  const data = new Uint8Array(1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
  return {
    name: 'filechunk_1mib',
    type: sampleMessages.FileChunk,
    sequence: 8,
    value: { path: 'big.bin', offset: 0n, sequence: 0, last: false, data } satisfies FileChunk,
  };
}
