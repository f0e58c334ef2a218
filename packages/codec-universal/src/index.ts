export { UNIVERSAL_VERSION, createUniversalCodec } from './codec.js';
export type { UniversalCodec, UniversalCodecOptions } from './codec.js';
export { ENVELOPE_PROTO } from './envelope-proto.js';
export { UniversalPayloadCodec, compileUniversal } from './payload.js';
export { toProtoSource } from './proto-source.js';
export type { ProtoSourceOptions } from './proto-source.js';
