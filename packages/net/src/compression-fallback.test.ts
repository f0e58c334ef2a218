// A build where the native addon does not load (no Rust toolchain, an unsupported platform): the one
// thing that cannot be real on this machine, where the addon is built, so only the addon module is
// replaced by one that reports itself unavailable. Links then offer and read deflate alone.
import { FRAME_FLAGS, tmeshError } from '@tmesh/core';
import { describe, expect, it, vi } from 'vitest';

vi.mock('@tmesh/shm-native/compress', () => {
  const unavailable = () => {
    throw tmeshError('E_NATIVE_UNAVAILABLE', 'zstd/lz4 need the native addon: not built');
  };
  return {
    compressionAvailable: () => ({ available: false, reason: 'zstd/lz4 need the native addon: not built' }),
    zstdCompress: unavailable,
    zstdDecompress: unavailable,
    lz4Compress: unavailable,
    lz4Decompress: unavailable,
  };
});

const { COMPRESSION_UNAVAILABLE_REASON, SUPPORTED_COMPRESSION, compress, decompress } = await import(
  './compression.js'
);
const { resolveOptions } = await import('./options.js');
const { negotiate } = await import('./negotiate.js');
const { localHello } = await import('./link.js');
const { node, registry } = await import('./test-support.js');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('compression without the native addon', () => {
  it('offers deflate only, and says why', () => {
    expect(SUPPORTED_COMPRESSION).toEqual(['deflate']);
    expect(COMPRESSION_UNAVAILABLE_REASON).toContain('native addon');
    const opts = resolveOptions({ self: node('a'), registry });
    expect(localHello(opts, 's', ['rust']).compression).toEqual(['deflate']);
  });

  it('refuses to be configured with zstd or lz4 (E_NOT_SUPPORTED), and cannot write them', () => {
    expect(codeOf(() => resolveOptions({ self: node('a'), registry, compression: ['zstd'] }))).toBe(
      'E_NOT_SUPPORTED',
    );
    expect(codeOf(() => compress('lz4', new Uint8Array(10)))).toBe('E_COMPRESSION');
  });

  it('agrees on deflate with a peer that has everything, and refuses a zstd frame', () => {
    const mine = localHello(resolveOptions({ self: node('a'), registry }), 's1', ['rust']);
    const theirs = { ...mine, nodeId: 'b', compression: ['zstd', 'lz4', 'deflate'] };
    expect(negotiate(theirs, mine).compressions).toEqual(['deflate']);
    expect(negotiate(mine, theirs).compression).toBe('deflate');
    expect(codeOf(() => decompress(FRAME_FLAGS.COMPRESSION_ZSTD, new Uint8Array(8), 1024))).toBe(
      'E_COMPRESSION',
    );
    const packed = compress('deflate', Buffer.from('hello hello hello hello'));
    expect(Buffer.from(decompress(FRAME_FLAGS.COMPRESSION_DEFLATE, packed, 1024)).toString()).toBe(
      'hello hello hello hello',
    );
  });
});
