import {
  type EnumDesc,
  type MessageType,
  namedTypes,
  type Schema,
  type StructDesc,
  type TypeDesc,
  tmeshError,
  type UnionDesc,
  validateDesc,
} from '@tmesh/core';

type Named = StructDesc | EnumDesc | UnionDesc;

/** Options of {@link toProtoSource}. */
export interface ProtoSourceOptions {
  /** The `package` line; default `tmesh`, so `tmesh.FileChunk` is the full name of `FileChunk`. */
  package?: string;
  /** A comment put at the top of the file. */
  header?: string;
}

/** The name of the empty message that unit variants of unions carry (`Unit`, or `Unit_` if taken). */
export function unitMessageName(types: readonly Named[]): string {
  let name = 'Unit';
  while (types.some((d) => d.name === name)) name += '_';
  return name;
}

const SCALAR_PROTO: Record<string, string> = {
  bool: 'bool',
  u8: 'uint32',
  u16: 'uint32',
  u32: 'uint32',
  u64: 'uint64',
  i8: 'int32',
  i16: 'int32',
  i32: 'int32',
  i64: 'int64',
  f32: 'float',
  f64: 'double',
  string: 'string',
  bytes: 'bytes',
};

function unsupported(where: string, what: string): never {
  throw tmeshError(
    'E_SCHEMA_UNSUPPORTED',
    `${where}: ${what} has no protobuf mapping (docs/PROTOCOL.md section 1)`,
  );
}

/** Refuse what proto3 cannot say: see docs/PROTOCOL.md section 1. */
export function checkProtoMappable(desc: TypeDesc, where: string): void {
  for (const d of namedTypes(desc)) {
    if (d.kind === 'struct') {
      for (const f of d.fields) {
        const inner = f.type.kind === 'optional' ? f.type.inner : f.type;
        checkValue(inner, `${d.name}.${f.name}`);
      }
    } else if (d.kind === 'union') {
      for (const v of d.variants) {
        if (v.name === 'value')
          unsupported(`${d.name}.value`, 'a union variant named "value" (the oneof is named value)');
        if (v.type) {
          const k = v.type.kind;
          if (k === 'optional' || k === 'list' || k === 'map')
            unsupported(`${d.name}.${v.name}`, `a union variant of kind ${k} (wrap it in a struct)`);
        }
      }
    }
  }
  if (desc.kind !== 'struct' && desc.kind !== 'union')
    unsupported(where, `a top-level ${desc.kind} (a payload is a struct or union)`);
}

function checkValue(d: TypeDesc, where: string): void {
  if (d.kind === 'optional') unsupported(where, 'optional anywhere but a struct field');
  const inner = d.kind === 'list' ? d.item : d.kind === 'map' ? d.value : undefined;
  if (inner && (inner.kind === 'list' || inner.kind === 'map' || inner.kind === 'optional')) {
    unsupported(where, d.kind === 'list' ? `a list of ${inner.kind}` : `a map whose value is ${inner.kind}`);
  }
}

function descOfInput(input: Schema<unknown> | MessageType<unknown> | TypeDesc): TypeDesc {
  const asType = input as MessageType<unknown>;
  if (asType && typeof asType === 'object' && 'schema' in asType && asType.schema) return asType.schema.desc;
  const asSchema = input as Schema<unknown>;
  if (asSchema && typeof asSchema === 'object' && 'desc' in asSchema && asSchema.desc) return asSchema.desc;
  return input as TypeDesc;
}

/**
 * Print the proto3 source equivalent to a set of schemas (message types, struct/union/enum schemas or
 * descriptors): every named type they reach, dependencies first, so Swift and Rust teams can run
 * protoc / prost-build on it. The universal codec builds its protobufjs Types from exactly this text.
 */
export function toProtoSource(
  schemas: Iterable<Schema<any> | MessageType<any> | TypeDesc>,
  options: ProtoSourceOptions = {},
): string {
  const pkg = options.package ?? 'tmesh';
  if (pkg !== '' && !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(pkg)) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `toProtoSource: package ${JSON.stringify(pkg)} is not a protobuf package name`,
    );
  }
  const types: Named[] = [];
  for (const input of schemas) {
    const desc = descOfInput(input);
    validateDesc(desc, 'toProtoSource');
    checkProtoMappable(desc, 'toProtoSource');
    for (const d of namedTypes(desc)) {
      const prior = types.find((p) => p.name === d.name);
      if (!prior) types.push(d);
      else if (prior !== d && JSON.stringify(prior) !== JSON.stringify(d)) {
        throw tmeshError(
          'E_SCHEMA_DUPLICATE_FIELD',
          `toProtoSource: two different types are both named ${d.name}`,
        );
      }
    }
  }
  const prefix = pkg === '' ? '.' : `.${pkg}.`;
  const needsUnit = types.some((d) => d.kind === 'union' && d.variants.some((v) => !v.type));
  const unit = unitMessageName(types);
  const typeName = (d: TypeDesc): string => {
    switch (d.kind) {
      case 'struct':
      case 'enum':
      case 'union':
        return prefix + d.name;
      case 'map':
        return `map<${typeName(d.key)}, ${typeName(d.value)}>`;
      case 'list':
        return `repeated ${typeName(d.item)}`;
      case 'optional':
        return `optional ${typeName(d.inner)}`;
      default:
        return SCALAR_PROTO[d.kind]!;
    }
  };
  const lines: string[] = [];
  if (options.header) for (const l of options.header.split('\n')) lines.push(`// ${l}`.trimEnd());
  lines.push('syntax = "proto3";', '');
  if (pkg !== '') lines.push(`package ${pkg};`, '');
  if (needsUnit) lines.push('// The payload of a unit variant of a union.', `message ${unit} {}`, '');
  for (const d of types) {
    if (d.kind === 'enum') {
      lines.push(`enum ${d.name} {`);
      for (const v of d.variants) lines.push(`  ${v.name} = ${v.index};`);
    } else if (d.kind === 'union') {
      lines.push(`message ${d.name} {`, '  oneof value {');
      for (const v of d.variants)
        lines.push(`    ${v.type ? typeName(v.type) : prefix + unit} ${v.name} = ${v.tag};`);
      lines.push('  }');
    } else {
      lines.push(`message ${d.name} {`);
      for (const f of d.fields) lines.push(`  ${typeName(f.type)} ${f.name} = ${f.tag};`);
    }
    lines.push('}', '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
