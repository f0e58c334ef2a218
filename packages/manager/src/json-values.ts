import { type TypeDesc, tmeshError } from '@tmesh/core';

/**
 * Values <-> JSON by schema, for the CLI and config files: 64-bit integers as JSON numbers when safe and
 * strings otherwise (both accepted on input), bytes as base64, maps as objects, unions as
 * `{ "kind": ..., "value": ... }`, absent optionals left out.
 */
export function valueToJson(desc: TypeDesc, value: unknown): unknown {
  switch (desc.kind) {
    case 'u64':
    case 'i64': {
      const v = value as bigint;
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : v.toString();
    }
    case 'f32':
    case 'f64': {
      const v = value as number;
      return Number.isFinite(v) ? v : String(v); // NaN, Infinity, -Infinity as strings, like protobuf JSON
    }
    case 'bytes':
      return Buffer.from(value as Uint8Array).toString('base64');
    case 'optional':
      return value === undefined ? undefined : valueToJson(desc.inner, value);
    case 'list':
      return (value as unknown[]).map((v) => valueToJson(desc.item, v));
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value as Map<unknown, unknown>) out[String(k)] = valueToJson(desc.value, v);
      return out;
    }
    case 'struct': {
      const out: Record<string, unknown> = {};
      const obj = value as Record<string, unknown>;
      for (const f of desc.fields) {
        const v = valueToJson(f.type, obj[f.name]);
        if (v !== undefined) out[f.name] = v;
      }
      return out;
    }
    case 'union': {
      const u = value as { kind: string; value?: unknown };
      const variant = desc.variants.find((v) => v.name === u.kind);
      return variant?.type ? { kind: u.kind, value: valueToJson(variant.type, u.value) } : { kind: u.kind };
    }
    default:
      return value;
  }
}

function fail(path: string, what: string): never {
  throw tmeshError('E_ENCODE_INVALID_VALUE', `${path}: ${what}`);
}

/** Parse a JSON value into the schema's value, with errors that name the path (`$.inner.id`). */
export function jsonToValue(desc: TypeDesc, json: unknown, path = '$'): unknown {
  switch (desc.kind) {
    case 'bool':
      if (typeof json !== 'boolean') fail(path, `expected true or false, got ${JSON.stringify(json)}`);
      return json;
    case 'u8':
    case 'u16':
    case 'u32':
    case 'i8':
    case 'i16':
    case 'i32':
      if (typeof json !== 'number' || !Number.isInteger(json))
        fail(path, `expected an integer, got ${JSON.stringify(json)}`);
      return json;
    case 'u64':
    case 'i64':
      if (typeof json === 'number' && Number.isSafeInteger(json)) return BigInt(json);
      if (typeof json === 'string' && /^-?\d+$/.test(json)) return BigInt(json);
      return fail(path, `expected an integer or a string of digits, got ${JSON.stringify(json)}`);
    case 'f32':
    case 'f64':
      if (typeof json === 'number') return json;
      if (json === 'NaN' || json === 'Infinity' || json === '-Infinity') return Number(json);
      return fail(path, `expected a number, got ${JSON.stringify(json)}`);
    case 'string':
      if (typeof json !== 'string') fail(path, `expected a string, got ${JSON.stringify(json)}`);
      return json;
    case 'bytes':
      if (typeof json !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(json))
        fail(path, 'expected base64 text');
      return new Uint8Array(Buffer.from(json as string, 'base64'));
    case 'optional':
      return json === undefined || json === null ? undefined : jsonToValue(desc.inner, json, path);
    case 'list':
      if (!Array.isArray(json)) fail(path, 'expected an array');
      return (json as unknown[]).map((v, i) => jsonToValue(desc.item, v, `${path}[${i}]`));
    case 'map': {
      if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(path, 'expected an object');
      const out = new Map<unknown, unknown>();
      for (const [k, v] of Object.entries(json as object)) {
        const key =
          desc.key.kind === 'string'
            ? k
            : desc.key.kind === 'bool'
              ? k === 'true'
              : jsonToValue(
                  desc.key,
                  /^-?\d+$/.test(k) ? (desc.key.kind.endsWith('64') ? k : Number(k)) : k,
                  `${path}.<key ${k}>`,
                );
        out.set(key, jsonToValue(desc.value, v, `${path}.${k}`));
      }
      return out;
    }
    case 'struct': {
      if (typeof json !== 'object' || json === null || Array.isArray(json))
        fail(path, `expected an object for ${desc.name}`);
      const obj = json as Record<string, unknown>;
      const known = new Set(desc.fields.map((f) => f.name));
      for (const key of Object.keys(obj))
        if (!known.has(key)) fail(`${path}.${key}`, `${desc.name} has no field ${key}`);
      const out: Record<string, unknown> = {};
      for (const f of desc.fields) {
        const v = obj[f.name];
        if (v === undefined && f.type.kind !== 'optional')
          fail(`${path}.${f.name}`, 'missing required field');
        const parsed = jsonToValue(f.type, v, `${path}.${f.name}`);
        if (parsed !== undefined) out[f.name] = parsed;
      }
      return out;
    }
    case 'enum':
      if (typeof json !== 'string' || !desc.variants.some((v) => v.name === json)) {
        fail(
          path,
          `expected one of ${desc.variants.map((v) => v.name).join(', ')}, got ${JSON.stringify(json)}`,
        );
      }
      return json;
    case 'union': {
      const u = json as { kind?: unknown; value?: unknown };
      const variant = desc.variants.find((v) => v.name === u?.kind);
      if (!variant) fail(path, `expected { "kind": one of ${desc.variants.map((v) => v.name).join(', ')} }`);
      return variant.type
        ? { kind: variant.name, value: jsonToValue(variant.type, u.value, `${path}.value`) }
        : { kind: variant.name };
    }
  }
}
