import { SWIFT_FRAME } from '@tmesh/core';
import { describeEncodeFrameInto } from '../../../test-support/encode-into-suite.js';
import { createSwiftCodec } from './index.js';
import { bigChunkCase, VECTOR_CASES, VECTOR_TIMESTAMP } from './test-support/vectors.js';

// The interop tests prove encode() against Python msgpack; the shared suite proves encodeFrameInto equal to
// it. An encode from a getter of the value is refused, and the shared writer goes back to its own slab.
describeEncodeFrameInto({
  name: 'swift',
  frame: SWIFT_FRAME,
  createCodec: (registry) => createSwiftCodec(registry),
  cases: () =>
    [...VECTOR_CASES, bigChunkCase()].map((c, i) => ({
      name: c.name,
      type: c.type,
      value: c.value,
      opts: { sequence: c.sequence, flags: i % 2 ? 0x10 : 0, timestamp: VECTOR_TIMESTAMP },
    })),
  fileChunkOverhead: SWIFT_FRAME.headerSize,
  getterEncode: 'refused',
});
