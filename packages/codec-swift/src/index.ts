/** @tmesh/codec-swift: SWFT frames with MessagePack payloads as Swift Codable encoders write them. */

export type { SwiftCodecOptions, SwiftWireCodec } from './codec.js';
export { createSwiftCodec } from './codec.js';
export type { SwiftPayloadCodec } from './compile.js';
export { ASSOCIATED_VALUE_KEY, compileSwift } from './compile.js';
