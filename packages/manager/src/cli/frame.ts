import { readFile } from 'node:fs/promises';
import { createRustCodec } from '@tmesh/codec-rust';
import { createSwiftCodec } from '@tmesh/codec-swift';
import { createUniversalCodec } from '@tmesh/codec-universal';
import {
  defineMessage,
  loadProtoSchemas,
  MessageRegistry,
  type MessageType,
  type StructSchema,
  tmeshError,
  type WireCodec,
  type WireId,
} from '@tmesh/core';
import { jsonToValue, valueToJson } from '../json-values.js';

/** What `tmesh frame encode|decode` needs: the wire, the .proto file, the message type and its id. */
export interface FrameCommandOptions {
  wire: string;
  proto: string;
  type: string;
  id: number;
  format: 'hex' | 'raw';
  sequence?: number;
}

/** The codec of a wire, built over the given registry. */
export function codecFor(wire: WireId, registry: MessageRegistry): WireCodec {
  if (wire === 'rust') return createRustCodec(registry);
  if (wire === 'swift') return createSwiftCodec(registry);
  return createUniversalCodec(registry);
}

/** Parse a wire name given on the command line. */
export function parseWire(value: string): WireId {
  if (value === 'rust' || value === 'swift' || value === 'universal') return value;
  throw tmeshError(
    'E_INVALID_ARGUMENT',
    `--wire must be rust, swift or universal, got ${JSON.stringify(value)}`,
  );
}

async function loadType(
  opts: FrameCommandOptions,
): Promise<{ type: MessageType<unknown>; codec: WireCodec }> {
  let source: string;
  try {
    source = await readFile(opts.proto, 'utf8');
  } catch (cause) {
    throw tmeshError('E_CONFIG', `cannot read ${opts.proto}`, { cause });
  }
  const schemas = loadProtoSchemas(source, opts.proto);
  const schema = schemas.get(opts.type);
  if (schema.desc.kind !== 'struct')
    throw tmeshError('E_INVALID_ARGUMENT', `--type ${opts.type} is not a message`);
  const name = schemas.package ? `${schemas.package}.${opts.type}` : opts.type;
  const type = defineMessage(name, opts.id, schema as StructSchema<unknown>);
  const registry = new MessageRegistry([type]);
  return { type, codec: codecFor(parseWire(opts.wire), registry) };
}

/** JSON text -> one frame of the chosen wire. */
export async function encodeFrameCommand(json: string, opts: FrameCommandOptions): Promise<Uint8Array> {
  const { type, codec } = await loadType(opts);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (cause) {
    throw tmeshError('E_INVALID_ARGUMENT', 'standard input is not valid JSON', { cause });
  }
  const value = jsonToValue(type.schema.desc, parsed);
  return codec.encode(type, value, { sequence: opts.sequence ?? 0 });
}

/** One frame (hex text or raw bytes) -> JSON of the header and the message. */
export async function decodeFrameCommand(input: Buffer, opts: FrameCommandOptions): Promise<unknown> {
  const { type, codec } = await loadType(opts);
  let bytes: Uint8Array = input;
  if (opts.format === 'hex') {
    const text = input.toString('utf8').replace(/\s+/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(text))
      throw tmeshError('E_INVALID_ARGUMENT', 'standard input is not hex text (use --format raw for bytes)');
    bytes = Buffer.from(text, 'hex');
  }
  const decoded = codec.decode(bytes);
  return {
    type: decoded.type.name,
    header: decoded.header,
    message: valueToJson(type.schema.desc, decoded.value),
  };
}
