import { defineMessage } from './registry.js';
import { t } from './schema.js';

const Kind = t.enum('EntryKind', ['File', 'Directory', 'Symlink']);
const Rename = t.struct('Rename', { from: t.string(), to: t.string() });
const Op = t.union('Op', {
  Noop: null,
  Delete: t.struct('Delete', { path: t.string() }),
  Rename,
  Chmod: t.u32(),
});
const Inner = t.struct('Inner', { id: t.u32(), label: t.string() });

/** Every schema type in one struct: the shape behind the cross-language test vectors. */
const AllTypes = t.struct('AllTypes', {
  flag: t.bool(),
  u8v: t.u8(),
  u16v: t.u16(),
  u32v: t.u32(),
  u64v: t.u64(),
  i8v: t.i8(),
  i16v: t.i16(),
  i32v: t.i32(),
  i64v: t.i64(),
  f32v: t.f32(),
  f64v: t.f64(),
  text: t.string(),
  blob: t.bytes(),
  maybeText: t.optional(t.string()),
  maybeNumber: t.optional(t.u64()),
  numbers: t.list(t.i32()),
  inner: Inner,
  inners: t.list(Inner),
  counts: t.map(t.string(), t.u64()),
  kind: Kind,
  op: Op,
  ops: t.list(Op),
});

/** A file chunk, the seed's fileTransfer message: the shape the benchmarks send. */
const FileChunk = t.struct('FileChunk', {
  path: t.string(),
  offset: t.u64(),
  sequence: t.u32(),
  last: t.bool(),
  data: t.bytes(),
});

/** A performance sample, the seed's PerformanceMetrics message. */
const Metrics = t.struct('Metrics', {
  node: t.string(),
  at: t.u64(),
  throughput: t.f64(),
  latencyMicros: t.f64(),
  counters: t.map(t.string(), t.u64()),
});

/**
 * The example schemas the docs, the demo, the shared test vectors and the benchmarks use. Ids follow
 * the seed's Rust message types (FileTransfer 1, ..., PerformanceMetrics 4).
 */
export const sampleMessages = {
  schemas: { AllTypes, FileChunk, Metrics, Inner, Kind, Op, Rename },
  FileChunk: defineMessage('tmesh.FileChunk', 1, FileChunk),
  AllTypes: defineMessage('tmesh.AllTypes', 3, AllTypes),
  Metrics: defineMessage('tmesh.Metrics', 4, Metrics),
};
