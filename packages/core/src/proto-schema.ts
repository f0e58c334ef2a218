import protobuf from 'protobufjs';
import { tmeshError } from './errors.js';
import {
  type EnumDesc,
  type FieldDesc,
  type ScalarKind,
  type Schema,
  type StructDesc,
  type TypeDesc,
  t,
  type UnionDesc,
  validateDesc,
} from './schema.js';

const PROTO_SCALARS: Record<string, ScalarKind> = {
  double: 'f64',
  float: 'f32',
  int32: 'i32',
  int64: 'i64',
  uint32: 'u32',
  uint64: 'u64',
  bool: 'bool',
  string: 'string',
  bytes: 'bytes',
};
const UNSUPPORTED_SCALARS = new Set(['sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);

/** Schemas loaded from a .proto file, by simple type name (`FileTransfer`, not `pkg.FileTransfer`). */
export interface ProtoSchemas {
  /** The package the file declares, or '' if none. */
  readonly package: string;
  /** Every message and enum, by simple name. */
  readonly types: ReadonlyMap<string, Schema<unknown>>;
  /** The schema of one type; throws E_SCHEMA_UNKNOWN_TYPE if the file does not define it. */
  get<T = unknown>(name: string): Schema<T>;
}

type PbType = protobuf.Type;
type PbEnum = protobuf.Enum;

/**
 * Load schemas from proto3 source text, so Swift and Rust teams share one definition.
 * Mapping (docs/PROTOCOL.md has the full table): field declaration order is the bincode order and the
 * MessagePack key is the field name as written; `optional` -> optional; `repeated` -> list;
 * `map<K, V>` -> map; a message field -> nested struct (required); an enum numbered 0..n-1 -> enum;
 * a message whose only content is one `oneof` -> union, where a member of an empty message type is a
 * unit variant. sint*, fixed* and sfixed* scalars are refused (E_SCHEMA_UNSUPPORTED): use int32, int64, uint32 or uint64.
 */
export function loadProtoSchemas(source: string, fileName = '<proto>'): ProtoSchemas {
  let parsed: protobuf.IParserResult;
  try {
    parsed = protobuf.parse(source, { keepCase: true });
    parsed.root.resolveAll();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const code = /no such type|unresolvable/i.test(reason) ? 'E_SCHEMA_UNKNOWN_TYPE' : 'E_SCHEMA_PROTO_PARSE';
    throw tmeshError(code, `${fileName}: ${reason}`, { cause });
  }
  const cache = new Map<PbType | PbEnum, TypeDesc>();

  const scalar = (type: string, where: string): TypeDesc => {
    const kind = PROTO_SCALARS[type];
    if (kind) return { kind };
    if (UNSUPPORTED_SCALARS.has(type)) {
      throw tmeshError(
        'E_SCHEMA_UNSUPPORTED',
        `${fileName}: ${where} uses ${type}; tmesh maps only int32/int64/uint32/uint64 integers`,
      );
    }
    throw tmeshError('E_SCHEMA_UNKNOWN_TYPE', `${fileName}: ${where} has unknown type ${type}`);
  };

  const enumDesc = (e: PbEnum): EnumDesc => {
    const entries = Object.entries(e.values);
    entries.forEach(([name, value], i) => {
      if (value !== i) {
        throw tmeshError(
          'E_SCHEMA_UNSUPPORTED',
          `${fileName}: enum ${e.name} value ${name} = ${value}; tmesh enums are numbered 0..n-1 in declaration order`,
        );
      }
    });
    return {
      kind: 'enum',
      name: e.name,
      variants: entries.map(([name], i) => ({ name, index: i, tag: i + 1, type: undefined })),
    };
  };

  const fieldType = (f: protobuf.Field, where: string): TypeDesc => {
    if (f.resolvedType) return named(f.resolvedType as PbType | PbEnum);
    return scalar(f.type, where);
  };

  const messageDesc = (m: PbType): StructDesc | UnionDesc => {
    const oneofs = m.oneofsArray.filter(
      (o) => !(o.fieldsArray.length === 1 && o.fieldsArray[0]!.options?.proto3_optional),
    );
    if (oneofs.length > 0) {
      const only = oneofs[0]!;
      if (oneofs.length > 1 || only.fieldsArray.length !== m.fieldsArray.length) {
        throw tmeshError(
          'E_SCHEMA_UNSUPPORTED',
          `${fileName}: message ${m.name} mixes a oneof with other fields; put the oneof in a message of its own (it becomes a union)`,
        );
      }
      return {
        kind: 'union',
        name: m.name,
        variants: only.fieldsArray.map((f, i) => {
          const rt = f.resolvedType;
          const unit = rt instanceof protobuf.Type && rt.fieldsArray.length === 0;
          if (f.repeated || f.map)
            throw tmeshError(
              'E_SCHEMA_UNSUPPORTED',
              `${fileName}: oneof member ${m.name}.${f.name} cannot be repeated`,
            );
          return {
            name: f.name,
            index: i,
            tag: f.id,
            type: unit ? undefined : fieldType(f, `${m.name}.${f.name}`),
          };
        }),
      };
    }
    const fields: FieldDesc[] = m.fieldsArray.map((f) => {
      const where = `${m.name}.${f.name}`;
      let type: TypeDesc;
      if (f.map) {
        const mf = f as unknown as protobuf.MapField;
        type = { kind: 'map', key: scalar(mf.keyType, `${where} key`), value: fieldType(f, where) };
      } else {
        type = fieldType(f, where);
        if (f.repeated) type = { kind: 'list', item: type };
        else if (f.options?.proto3_optional) type = { kind: 'optional', inner: type };
      }
      return { name: f.name, tag: f.id, type };
    });
    return { kind: 'struct', name: m.name, fields };
  };

  function named(node: PbType | PbEnum): TypeDesc {
    const hit = cache.get(node);
    if (hit) return hit;
    const desc = node instanceof protobuf.Enum ? enumDesc(node) : messageDesc(node);
    cache.set(node, desc);
    return desc;
  }

  const types = new Map<string, Schema<unknown>>();
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const child of ns.nestedArray) {
      if (child instanceof protobuf.Type || child instanceof protobuf.Enum) {
        const desc = named(child);
        validateDesc(desc, `${fileName}: ${child.name}`);
        if (types.has(child.name)) {
          throw tmeshError(
            'E_SCHEMA_DUPLICATE_FIELD',
            `${fileName}: two types are named ${child.name}; tmesh uses simple names`,
          );
        }
        types.set(child.name, t.fromDesc(desc));
      }
      if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) visit(child);
    }
  };
  visit(parsed.root);

  return {
    package: parsed.package ?? '',
    types,
    get<T>(name: string): Schema<T> {
      const s = types.get(name);
      if (!s)
        throw tmeshError(
          'E_SCHEMA_UNKNOWN_TYPE',
          `${fileName} defines no message or enum named ${name} (has: ${[...types.keys()].join(', ')})`,
        );
      return s as Schema<T>;
    },
  };
}
