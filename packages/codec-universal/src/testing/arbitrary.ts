// Internal test support: fast-check arbitraries driven by a schema descriptor (the walk is the shared one in
// test-support/arbitrary.ts), and helpers to build protobuf bytes by hand. Not exported from the package.
import type { TypeDesc } from '@tmesh/core';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import {
  FULL_RANGE_NUMBERS,
  isWellFormed,
  type ValueProfile,
  arbitraryOf as valuesOf,
} from '../../../../test-support/arbitrary.js';
import { BigintWriter } from '../pb-io.js';

/** protobuf's view: full-range integers (varints of every length), well-formed strings, absent optionals left out. */
const PROTOBUF_VALUES: ValueProfile = {
  leaves: {
    ...FULL_RANGE_NUMBERS,
    u32: fc.bigInt({ min: 0n, max: 0xffffffffn }).map(Number),
    string: fc.string({ unit: 'binary', maxLength: 20 }).filter(isWellFormed),
    bytes: fc.uint8Array({ maxLength: 40 }),
  },
  maxItems: 5,
  omitAbsent: true,
};

/** Any value of the type `desc` describes, as the API represents it. */
export function arbitraryOf(desc: TypeDesc): fc.Arbitrary<unknown> {
  return valuesOf(desc, PROTOBUF_VALUES);
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

export { hex, unhex } from '../../../../test-support/bytes.js';
