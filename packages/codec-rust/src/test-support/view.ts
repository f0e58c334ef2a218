import type { TypeDesc } from '@tmesh/core';

import { hex } from '../../../../test-support/bytes.js';

export { hex };

const f32 = new Float32Array(1);
const f32bits = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const f64bits = new BigUint64Array(f64.buffer);

/**
 * The exact JSON view of a value that interop/bincode-check prints (its `View` trait): 64-bit integers
 * as decimal strings, floats as IEEE bit patterns in hex, bytes as hex, maps as [key, value] pairs,
 * absent optionals as null, unions as { kind, value }.
 */
export function viewOf(desc: TypeDesc, value: any): unknown {
  switch (desc.kind) {
    case 'u64':
    case 'i64':
      return String(value);
    case 'f32':
      f32[0] = value;
      return f32bits[0]!.toString(16).padStart(8, '0');
    case 'f64':
      f64[0] = value;
      return f64bits[0]!.toString(16).padStart(16, '0');
    case 'bytes':
      return hex(value);
    case 'optional':
      return value === undefined ? null : viewOf(desc.inner, value);
    case 'list':
      return (value as unknown[]).map((item) => viewOf(desc.item, item));
    case 'map':
      return [...(value as Map<unknown, unknown>)].map(([k, v]) => [
        viewOf(desc.key, k),
        viewOf(desc.value, v),
      ]);
    case 'struct':
      return Object.fromEntries(desc.fields.map((f) => [f.name, viewOf(f.type, value[f.name])]));
    case 'union': {
      const variant = desc.variants.find((v) => v.name === value.kind)!;
      return variant.type
        ? { kind: value.kind, value: viewOf(variant.type, value.value) }
        : { kind: value.kind };
    }
    default:
      return value;
  }
}
