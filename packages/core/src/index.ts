export { crc32, crc32Js, crc32Implementation } from './crc32.js';
export { ERROR_CODES, TmeshError, isTmeshError, tmeshError } from './errors.js';
export type { TmeshErrorCode, TmeshErrorOptions } from './errors.js';
export { getMachineId, resolveMachineId } from './machine-id.js';
export type { MachineIdOptions, MachineIdSource } from './machine-id.js';
export { ALL_WIRES, PROTOCOL_VERSION, defaultWiresFor, nativeWireOf } from './node.js';
export type {
  CompressionAlgorithm, Endpoint, IdleStrategy, Language, NodeInfo, StrategyKind, TransportStrategy, WireId,
} from './node.js';
export { loadProtoSchemas } from './proto-schema.js';
export type { ProtoSchemas } from './proto-schema.js';
export { MessageRegistry, defineMessage } from './registry.js';
export type { MessageType } from './registry.js';
export { SCALAR_KINDS, isMapKeyKind, namedTypes, t, validateDesc } from './schema.js';
export type {
  EnumDesc, FieldDesc, Infer, InferStruct, InferUnion, OptionalSchema, ScalarKind, Schema, StructDesc, StructOptions,
  TypeDesc, UnionDesc, VariantDesc,
} from './schema.js';
export { sampleMessages } from './samples.js';
export {
  DEFAULT_MAX_FRAME_SIZE, FRAME_FLAGS, FixedFrameDecoder, RUST_FRAME, SWIFT_FRAME, checkPayload, openFrame,
  readFrameHeader, sealFrame,
} from './frame.js';
export type { FixedFrameLayout, FrameDecoderOptions, FrameHeader, FrameMeta, RawFrame } from './frame.js';
export type { DecodedMessage, MessageDecoder, PayloadCodec, WireCodec, WireEncodeOptions } from './codec.js';
