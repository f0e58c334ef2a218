import { RUST_FRAME } from '@tmesh/core';
import { describeEncodeFrameInto } from '../../../test-support/encode-into-suite.js';
import { createRustCodec } from './index.js';
import { vectorCases } from './vector-cases.js';

// The interop tests prove encode() against the real bincode 1.3; the shared suite proves encodeFrameInto
// equal to it. A getter of the value may encode meanwhile: it gets a writer of its own.
describeEncodeFrameInto({
  name: 'rust',
  frame: RUST_FRAME,
  createCodec: (registry) => createRustCodec(registry),
  cases: () =>
    vectorCases().map((c) => ({
      name: c.name,
      type: c.type,
      value: c.value,
      opts: { sequence: c.sequence, flags: c.flags, timestamp: c.timestamp },
    })),
  // header, path (u64 length + "p"), offset u64, sequence u32, last u8, data's u64 length
  fileChunkOverhead: 32 + 8 + 1 + 8 + 4 + 1 + 8,
  getterEncode: 'allowed',
});
