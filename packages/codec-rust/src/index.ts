export { compileRust } from './compile.js';
export { createRustCodec } from './codec.js';
export type { RustCodecOptions } from './codec.js';
