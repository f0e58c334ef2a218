export type { RustCodecOptions } from './codec.js';
export { createRustCodec } from './codec.js';
export { compileRust } from './compile.js';
