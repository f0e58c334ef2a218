export type { DecodedMessage, MessageDecoder, PayloadCodec, WireCodec, WireEncodeOptions } from './codec.js';
export type { Crc32Function } from './crc32.js';
export {
  CRC32_NATIVE_THRESHOLD,
  crc32,
  crc32Accelerator,
  crc32Implementation,
  crc32Js,
  crc32Range,
  setCrc32Accelerator,
} from './crc32.js';
export type { TmeshErrorCode, TmeshErrorOptions } from './errors.js';
export { ERROR_CODES, isTmeshError, TmeshError, tmeshError } from './errors.js';
export type { FixedFrameLayout, FrameDecoderOptions, FrameHeader, FrameMeta, RawFrame } from './frame.js';
export {
  checkPayload,
  DEFAULT_MAX_FRAME_SIZE,
  FixedFrameDecoder,
  FRAME_FLAGS,
  GATHER_MIN_BYTES,
  gatherParts,
  openFrame,
  partsChecksum,
  RUST_FRAME,
  readFrameHeader,
  resealFrameParts,
  SWIFT_FRAME,
  sealFrame,
  sealFrameAt,
  sealFrameParts,
} from './frame.js';
export { FrameAssembly } from './frame-assembly.js';
export type { MachineIdOptions, MachineIdSource } from './machine-id.js';
export { getMachineId, resolveMachineId } from './machine-id.js';
export type {
  CompressionAlgorithm,
  Endpoint,
  IdleStrategy,
  Language,
  LinkCondition,
  NodeInfo,
  StrategyKind,
  TransportStrategy,
  WireId,
} from './node.js';
export { ALL_WIRES, defaultWiresFor, nativeWireOf, PROTOCOL_VERSION } from './node.js';
export type { ProtoSchemas } from './proto-schema.js';
export { loadProtoSchemas } from './proto-schema.js';
export type { MessageType } from './registry.js';
export { CONTROL_MESSAGE_IDS, defineControlMessage, defineMessage, MessageRegistry } from './registry.js';
export { sampleMessages } from './samples.js';
export type {
  EnumDesc,
  FieldDesc,
  Infer,
  InferStruct,
  InferUnion,
  OptionalSchema,
  ScalarKind,
  Schema,
  StructDesc,
  StructOptions,
  StructSchema,
  TypeDesc,
  UnionDesc,
  VariantDesc,
} from './schema.js';
export { isMapKeyKind, namedTypes, SCALAR_KINDS, t, validateDesc } from './schema.js';
