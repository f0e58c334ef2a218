import { describe, expect, it } from 'vitest';
import { codeOf } from '../../../test-support/errors.js';
import type { TmeshErrorCode } from './errors.js';
import { loadProtoSchemas } from './proto-schema.js';

const PROTO = `
syntax = "proto3";
package demo;

enum Color { RED = 0; GREEN = 1; }
message Empty {}
message Move { int32 dx = 1; }
message Op { oneof value { Empty stop = 1; Move move = 2; bytes raw = 3; } }
message Inner { uint32 id = 1; repeated string tags = 2; }
message Msg {
  uint64 big = 3;
  bool flag = 1;
  optional string note = 2;
  Inner inner = 4;
  map<string, int64> counts = 5;
  Color color = 6;
  Op op = 7;
  double ratio = 8;
  float small = 9;
  bytes blob = 10;
  repeated Inner inners = 11;
}
`;

describe('loadProtoSchemas', () => {
  const loaded = loadProtoSchemas(PROTO, 'demo.proto');

  it('maps a message with declaration order, proto tags and field names as written', () => {
    const msg = loaded.get('Msg').desc;
    expect(loaded.package).toBe('demo');
    expect(msg.kind).toBe('struct');
    if (msg.kind !== 'struct') return;
    expect(msg.fields.map((f) => [f.name, f.tag, f.type.kind])).toEqual([
      ['big', 3, 'u64'],
      ['flag', 1, 'bool'],
      ['note', 2, 'optional'],
      ['inner', 4, 'struct'],
      ['counts', 5, 'map'],
      ['color', 6, 'enum'],
      ['op', 7, 'union'],
      ['ratio', 8, 'f64'],
      ['small', 9, 'f32'],
      ['blob', 10, 'bytes'],
      ['inners', 11, 'list'],
    ]);
    expect(msg.fields[4]!.type).toEqual({ kind: 'map', key: { kind: 'string' }, value: { kind: 'i64' } });
  });

  it('maps enums and oneof-only messages to unions with unit variants', () => {
    expect(loaded.get('Color').desc).toEqual({
      kind: 'enum',
      name: 'Color',
      variants: [
        { name: 'RED', index: 0, tag: 1, type: undefined },
        { name: 'GREEN', index: 1, tag: 2, type: undefined },
      ],
    });
    const op = loaded.get('Op').desc;
    expect(op.kind).toBe('union');
    if (op.kind !== 'union') return;
    expect(op.variants.map((v) => [v.name, v.index, v.tag, v.type?.kind])).toEqual([
      ['stop', 0, 1, undefined],
      ['move', 1, 2, 'struct'],
      ['raw', 2, 3, 'bytes'],
    ]);
  });

  it.each<[string, string, TmeshErrorCode]>([
    ['syntax error', 'syntax = "proto3"; message {', 'E_SCHEMA_PROTO_PARSE'],
    ['unknown field type', 'syntax = "proto3"; message A { Nope n = 1; }', 'E_SCHEMA_UNKNOWN_TYPE'],
    [
      'duplicate field number',
      'syntax = "proto3"; message A { int32 a = 1; int32 b = 1; }',
      'E_SCHEMA_PROTO_PARSE',
    ],
    [
      'duplicate field name',
      'syntax = "proto3"; message A { int32 a = 1; int32 a = 2; }',
      'E_SCHEMA_PROTO_PARSE',
    ],
    ['sint32 refused', 'syntax = "proto3"; message A { sint32 a = 1; }', 'E_SCHEMA_UNSUPPORTED'],
    ['sparse enum refused', 'syntax = "proto3"; enum E { A = 0; B = 5; }', 'E_SCHEMA_UNSUPPORTED'],
    [
      'oneof mixed with fields',
      'syntax = "proto3"; message A { int32 x = 1; oneof v { int32 a = 2; } }',
      'E_SCHEMA_UNSUPPORTED',
    ],
  ])('%s -> %s', (_name, source, code) => {
    expect(codeOf(() => loadProtoSchemas(source))).toBe(code);
  });

  it('says which types exist when asked for a missing one', () => {
    expect(() => loaded.get('Nope')).toThrow(/defines no message or enum named Nope \(has: .*Msg/);
  });
});
