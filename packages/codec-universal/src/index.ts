export type {
  EnvelopeCompression,
  UniversalCodec,
  UniversalCodecOptions,
  UniversalDecoderOptions,
  UniversalMessageDecoder,
} from './codec.js';
export { createUniversalCodec, UNIVERSAL_VERSION } from './codec.js';
export { ENVELOPE_PROTO } from './envelope-proto.js';
export { compileUniversal, UniversalPayloadCodec } from './payload.js';
export type { ProtoSourceOptions } from './proto-source.js';
export { toProtoSource } from './proto-source.js';
