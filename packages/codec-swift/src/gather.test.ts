import { SWIFT_FRAME } from '@tmesh/core';
import { describeEncodeParts } from '../../../test-support/gather-suite.js';
import { createSwiftCodec } from './index.js';

// The interop tests prove encode() against the real MessagePack peer; the shared suite proves encodeParts equal to it.
describeEncodeParts({
  name: 'swift',
  frame: SWIFT_FRAME,
  createCodec: (registry) => createSwiftCodec(registry),
});
