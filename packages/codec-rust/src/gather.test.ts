import { RUST_FRAME } from '@tmesh/core';
import { describeEncodeParts } from '../../../test-support/gather-suite.js';
import { createRustCodec } from './index.js';

// The interop tests prove encode() against the real bincode 1.3; the shared suite proves encodeParts equal to it.
describeEncodeParts({
  name: 'rust',
  frame: RUST_FRAME,
  createCodec: (registry) => createRustCodec(registry),
});
