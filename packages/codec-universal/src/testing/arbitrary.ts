// Internal test support: fast-check arbitraries driven by a schema descriptor, and helpers to build
// protobuf bytes by hand. Not exported from the package.
import type { TypeDesc } from '@tmesh/core';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { BigintWriter } from '../pb-io.js';

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Any value of the type `desc` describes, as the API represents it. */
export function arbitraryOf(desc: TypeDesc): fc.Arbitrary<unknown> {
  switch (desc.kind) {
    case 'bool':
      return fc.boolean();
    case 'u8':
      return fc.integer({ min: 0, max: 0xff });
    case 'u16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'u32':
      return fc.bigInt({ min: 0n, max: 0xffffffffn }).map(Number);
    case 'i8':
      return fc.integer({ min: -0x80, max: 0x7f });
    case 'i16':
      return fc.integer({ min: -0x8000, max: 0x7fff });
    case 'i32':
      return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case 'u64':
      return fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
    case 'i64':
      return fc.bigInt({ min: -0x8000000000000000n, max: 0x7fffffffffffffffn });
    case 'f32':
      return fc.float();
    case 'f64':
      return fc.double();
    case 'string':
      return fc.string({ unit: 'binary', maxLength: 20 }).filter(isWellFormed);
    case 'bytes':
      return fc.uint8Array({ maxLength: 40 });
    case 'optional':
      return fc.option(arbitraryOf(desc.inner), { nil: undefined });
    case 'list':
      return fc.array(arbitraryOf(desc.item), { maxLength: 5 });
    case 'map':
      return fc
        .array(fc.tuple(arbitraryOf(desc.key), arbitraryOf(desc.value)), { maxLength: 5 })
        .map((e) => new Map(e));
    case 'enum':
      return fc.constantFrom(...desc.variants.map((v) => v.name));
    case 'union':
      return fc.oneof(
        ...desc.variants.map((v) =>
          v.type
            ? arbitraryOf(v.type).map((value) => ({ kind: v.name, value }))
            : fc.constant({ kind: v.name }),
        ),
      );
    case 'struct': {
      const fields: Record<string, fc.Arbitrary<unknown>> = {};
      for (const f of desc.fields) fields[f.name] = arbitraryOf(f.type);
      // Optional fields that came out undefined are left out, as a decoder gives them back.
      return fc.record(fields).map((r) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
        return out;
      });
    }
    default:
      throw new Error(`no arbitrary for ${(desc as { kind: string }).kind}`);
  }
}

/** One field of a hand-built protobuf message: [field number, wire type, value]. */
export type RawField =
  | [number, 0, number | bigint]
  | [number, 1, bigint]
  | [number, 2, Uint8Array | string]
  | [number, 5, number];

/** Build protobuf bytes field by field (any order, any field), with the protobufjs Writer. */
export function rawMessage(fields: readonly RawField[]): Uint8Array {
  const w = new BigintWriter();
  for (const [no, wt, value] of fields) {
    w.uint32((no << 3) | wt);
    if (wt === 0) w.uint64(BigInt(value as number | bigint));
    else if (wt === 1) {
      const v = BigInt.asUintN(64, value as bigint);
      w.fixed32(Number(v & 0xffffffffn)).fixed32(Number(v >> 32n));
    } else if (wt === 2) typeof value === 'string' ? w.string(value) : w.bytes(value as Uint8Array);
    else w.fixed32(value as number);
  }
  return Uint8Array.from(w.finish());
}

/** `bytes` preceded by their length as a varint: one frame of a length-delimited stream. */
export function delimited(bytes: Uint8Array): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(bytes.length);
  const prefix = w.finish();
  const out = new Uint8Array(prefix.length + bytes.length);
  out.set(prefix);
  out.set(bytes, prefix.length);
  return out;
}

/** Lower-case hex of bytes. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Bytes from hex, spaces allowed. */
export function unhex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}
