// zstd, lz4 and deflate on real links (TCP, every wire), and every refusal: an algorithm the link did not
// negotiate, a corrupt payload, a payload that would decompress beyond the frame limit. zstd and lz4 come
// from the native addon (built by turbo before the tests); this file fails if it is missing, since the
// build here always has it.
import net from 'node:net';
import { deflateRawSync } from 'node:zlib';
import {
  type CompressionAlgorithm,
  crc32,
  type DecodedMessage,
  FRAME_FLAGS,
  RUST_FRAME,
  sealFrame,
  type WireId,
} from '@tmesh/core';
import { lz4Compress, zstdCompress } from '@tmesh/shm-native/compress';
import { afterEach, describe, expect, it } from 'vitest';
import {
  algorithmOfFlag,
  compress,
  compressionFlag,
  decompress,
  pickCompression,
  SUPPORTED_COMPRESSION,
} from './compression.js';
import { linkRegistry } from './control.js';
import { wireAdapter } from './framing.js';
import { handshake } from './handshake.js';
import { connect, type Link, type LinkServer, listen } from './index.js';
import { localHello, newSessionId } from './link.js';
import { resolveOptions } from './options.js';
import { chunk, FileChunk, nextEvent, node, registry, waitUntil } from './test-support.js';

const ALGORITHMS: CompressionAlgorithm[] = ['zstd', 'lz4', 'deflate'];

/** Log-like text: compresses well, but not trivially. */
function text(size: number, seed = 1): Buffer {
  let s = seed >>> 0;
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    s = (s * 1103515245 + 12345) >>> 0;
    const line = `{"seq":${s % 100000},"node":"node-${s % 16}","path":"/var/lib/tmesh/f-${s % 5000}.bin","ok":${s % 7 !== 0}}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('compression: algorithms', () => {
  it('offers zstd, lz4 and deflate here (the addon is built)', () => {
    expect(SUPPORTED_COMPRESSION).toEqual(['zstd', 'lz4', 'deflate']);
  });

  it('round-trips every algorithm on empty, tiny, text and random payloads', () => {
    const random = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 2654435761) >>> 24));
    for (const algorithm of ALGORITHMS) {
      for (const payload of [new Uint8Array(0), Buffer.from([7]), text(300_000), random]) {
        const packed = compress(algorithm, payload);
        const flag = compressionFlag(algorithm);
        expect(algorithmOfFlag(flag)).toBe(algorithm);
        const plain = decompress(flag, packed, payload.length, [algorithm]);
        expect(Buffer.from(plain).equals(Buffer.from(payload))).toBe(true);
      }
      expect(compress(algorithm, text(300_000)).length).toBeLessThan(300_000 / 3);
    }
  });

  it('writes the documented bytes: lz4 = u32 LE size + block, zstd = one frame with its content size', () => {
    const payload = text(5000);
    const lz4 = compress('lz4', payload);
    expect(lz4.length).toBeGreaterThan(4);
    expect(Buffer.from(lz4).readUInt32LE(0)).toBe(5000);
    const zstd = Buffer.from(compress('zstd', payload));
    expect(zstd.readUInt32LE(0)).toBe(0xfd2fb528); // zstd frame magic
    // Frame_Header_Descriptor: Frame_Content_Size_Flag (bits 7-6) > 0 or Single_Segment (bit 5) set.
    const fhd = zstd[4]!;
    expect((fhd & 0xc0) !== 0 || (fhd & 0x20) !== 0).toBe(true);
    // The content size 5000 is in the header: 2-byte field (FCS flag 1) holds 5000 - 256.
    expect(fhd >> 6).toBe(1);
    expect(zstd.readUInt16LE(fhd & 0x20 ? 5 : 6) + 256).toBe(5000);
  });

  it('refuses an algorithm that was not negotiated, or an unassigned flag value', () => {
    const packed = compress('zstd', text(10_000));
    expect(codeOf(() => decompress(FRAME_FLAGS.COMPRESSION_ZSTD, packed, 1 << 20, ['deflate']))).toBe(
      'E_COMPRESSION',
    );
    expect(codeOf(() => decompress(FRAME_FLAGS.COMPRESSION_LZ4, packed, 1 << 20, []))).toBe('E_COMPRESSION');
    expect(codeOf(() => decompress(5, packed, 1 << 20))).toBe('E_COMPRESSION');
    expect(codeOf(() => decompress(7, packed, 1 << 20))).toBe('E_COMPRESSION');
  });

  it('refuses a payload that would decompress beyond the limit (a bomb), before allocating it', () => {
    const zeros = new Uint8Array(8 * 1024 * 1024);
    for (const algorithm of ALGORITHMS) {
      const bomb = compress(algorithm, zeros);
      expect(bomb.length).toBeLessThan(64 * 1024);
      const flag = compressionFlag(algorithm);
      expect(codeOf(() => decompress(flag, bomb, 1024 * 1024))).toBe('E_COMPRESSION');
      expect(decompress(flag, bomb, zeros.length).length).toBe(zeros.length);
    }
    // A size prefix / content size that claims 4 GiB is refused from the header alone.
    const lie = Buffer.from(lz4Compress(Buffer.from('abc')));
    lie.writeUInt32LE(0xffffffff, 0);
    expect(codeOf(() => decompress(FRAME_FLAGS.COMPRESSION_LZ4, lie, 64 * 1024 * 1024))).toBe(
      'E_COMPRESSION',
    );
  });

  it('refuses corrupt and truncated payloads of every algorithm', () => {
    const payload = text(50_000);
    for (const algorithm of ALGORITHMS) {
      const flag = compressionFlag(algorithm);
      const packed = Buffer.from(compress(algorithm, payload));
      expect(codeOf(() => decompress(flag, packed.subarray(0, packed.length - 5), 1 << 20))).toBe(
        'E_COMPRESSION',
      );
      expect(codeOf(() => decompress(flag, Buffer.from('not compressed at all'), 1 << 20))).toBe(
        'E_COMPRESSION',
      );
    }
    // A size prefix larger than what the block holds.
    const lz4 = Buffer.from(lz4Compress(payload));
    lz4.writeUInt32LE(60_000, 0);
    expect(codeOf(() => decompress(FRAME_FLAGS.COMPRESSION_LZ4, lz4, 1 << 20))).toBe('E_COMPRESSION');
    // Two zstd frames back to back, and a zstd frame streamed without its content size.
    const z = zstdCompress(Buffer.from('hello'));
    expect(codeOf(() => decompress(FRAME_FLAGS.COMPRESSION_ZSTD, Buffer.concat([z, z]), 1 << 20))).toBe(
      'E_COMPRESSION',
    );
    // RFC 8878 frame: magic, FHD 0x00 (no content size, window descriptor follows), window 0x00,
    // one last raw block of 5 bytes ("hello").
    const noSize = Buffer.from([
      0x28,
      0xb5,
      0x2f,
      0xfd,
      0x00,
      0x00,
      0x29,
      0x00,
      0x00,
      ...Buffer.from('hello'),
    ]);
    expect(codeOf(() => decompress(FRAME_FLAGS.COMPRESSION_ZSTD, noSize, 1 << 20))).toBe('E_COMPRESSION');
  });

  it('mutated and random payloads: a TmeshError E_COMPRESSION or at most the limit, never a crash', () => {
    // Deterministic mutations (xorshift32), bounded: 1500 inputs per algorithm.
    let seed = 0x9e3779b9;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const limit = 64 * 1024;
    for (const algorithm of ALGORITHMS) {
      const flag = compressionFlag(algorithm);
      const valid = Buffer.from(compress(algorithm, text(20_000, 3)));
      let refused = 0;
      for (let i = 0; i < 1500; i++) {
        let input: Buffer;
        if (i % 5 === 0) input = Buffer.from(Array.from({ length: rnd(200) }, () => rnd(256)));
        else {
          input = Buffer.from(valid.subarray(0, i % 7 === 0 ? rnd(valid.length + 1) : valid.length));
          for (let k = 1 + rnd(4); k > 0 && input.length > 0; k--) input[rnd(input.length)] = rnd(256);
        }
        try {
          expect(decompress(flag, input, limit).length).toBeLessThanOrEqual(limit);
        } catch (e) {
          expect((e as { code?: string }).code, String(e)).toBe('E_COMPRESSION');
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(100);
    }
  });

  it("picks 'best' (zstd, deflate, lz4) and 'fast' (lz4, zstd, deflate) among the negotiated", () => {
    expect(pickCompression('best', ['lz4', 'deflate', 'zstd'])).toBe('zstd');
    expect(pickCompression('best', ['lz4', 'deflate'])).toBe('deflate');
    expect(pickCompression('fast', ['deflate', 'zstd', 'lz4'])).toBe('lz4');
    expect(pickCompression('fast', ['deflate', 'zstd'])).toBe('zstd');
    expect(pickCompression('best', [])).toBeUndefined();
  });
});

const servers: LinkServer[] = [];
const links: Link[] = [];
afterEach(async () => {
  await Promise.allSettled(links.splice(0).map((l) => l.close()));
  await Promise.allSettled(servers.splice(0).map((s) => s.close()));
});

async function server(
  options: { compression?: CompressionAlgorithm[]; maxFrameSize?: number } = {},
  onMessage?: (m: DecodedMessage) => void,
  onDisconnect?: (e: { code: string }) => void,
): Promise<LinkServer> {
  const s = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    {
      self: node('server'),
      registry,
      ...options,
      onLink: (l) => {
        if (onMessage) l.on('message', onMessage);
        if (onDisconnect) l.on('disconnect', onDisconnect);
        l.on('error', () => {});
      },
    },
  );
  servers.push(s);
  return s;
}

describe('compression on live links', () => {
  for (const wire of ['rust', 'swift', 'universal'] as WireId[]) {
    it(`${wire} wire: each algorithm compresses above the threshold and the peer reads the same bytes`, async () => {
      const got: DecodedMessage[] = [];
      const s = await server({}, (m) => got.push(m));
      const link = await connect(s.address(), { self: node('client'), registry, wires: [wire] });
      links.push(link);
      expect(link.compression).toBe('none'); // offered by default, applied only when asked
      let sent = 0;
      const sums = new Map<number, number>();
      const send = async (data: Buffer) => {
        sums.set(++sent, crc32(data));
        await link.send(FileChunk, chunk(sent, data));
      };
      for (const algorithm of ALGORITHMS) {
        link.applyConfig({ compression: algorithm });
        expect(link.compression).toBe(algorithm);
        const before = link.stats().compressedBytesSaved ?? 0;
        for (let i = 0; i < 4; i++) await send(text(64 * 1024 + i * 1000, sent + 1));
        await send(text(100)); // below the threshold (4096 bytes): sent plain
        await link.flush();
        await waitUntil(() => got.length === sent, 5000, 'all messages');
        const batch = got.slice(sent - 5);
        expect(batch.slice(0, 4).map((m) => algorithmOfFlag(m.header.flags))).toEqual([
          algorithm,
          algorithm,
          algorithm,
          algorithm,
        ]);
        expect(batch[4]!.header.flags & FRAME_FLAGS.COMPRESSION_MASK).toBe(0);
        for (const m of batch) {
          const v = m.value as { sequence: number; data: Uint8Array };
          expect(crc32(v.data)).toBe(sums.get(v.sequence));
        }
        expect((link.stats().compressedBytesSaved ?? 0) - before).toBeGreaterThan(4 * 40_000);
      }
      link.applyConfig({ compression: 'best' });
      expect(link.compression).toBe('zstd');
      link.applyConfig({ compression: 'fast' });
      expect(link.compression).toBe('lz4');
      link.applyConfig({ compression: 'off' });
      expect(link.compression).toBe('none');
    });
  }

  it('agrees only on what both sides offer; the initiator order picks the default', async () => {
    const s = await server({ compression: ['deflate', 'lz4'] });
    const link = await connect(s.address(), {
      self: node('client'),
      registry,
      compression: ['zstd', 'lz4', 'deflate'],
    });
    links.push(link);
    expect(link.compression).toBe('lz4');
    expect(() => link.applyConfig({ compression: 'zstd' })).toThrow(
      expect.objectContaining({ code: 'E_NOT_SUPPORTED' }),
    );
    link.applyConfig({ compression: 'best' });
    expect(link.compression).toBe('deflate');
  });
});

/** A raw initiator: a real handshake offering `offer`, then whatever frames the test writes. */
async function rawLink(
  s: LinkServer,
  offer: CompressionAlgorithm[],
): Promise<{ socket: net.Socket; closed: Promise<void>; agreed: CompressionAlgorithm[] }> {
  const opts = resolveOptions({ self: node('raw', ['rust']), registry, compression: offer });
  const socket = net.connect({ host: '127.0.0.1', port: (s.address() as { port: number }).port });
  await nextEvent(socket, 'connect');
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const { agreement } = await handshake(socket, {
    role: 'initiator',
    hello: localHello(opts, newSessionId(), ['rust']),
    token: undefined,
    registry: linkRegistry(registry),
    timeoutMs: 2000,
    onPeerHello: () => ({ resumeSession: '', resumeReceived: 0 }),
  });
  expect(agreement.wire).toBe('rust');
  socket.resume();
  return { socket, closed, agreed: agreement.compressions };
}

/** A RUST frame of FileChunk seq 1 whose payload is `payload` with compression flag `flag`. */
function rustFrame(payload: Uint8Array, flag: number): Uint8Array {
  const out = Buffer.alloc(RUST_FRAME.headerSize + payload.length);
  out.set(payload, RUST_FRAME.headerSize);
  return sealFrame(RUST_FRAME, out, { messageType: FileChunk.id, flags: flag, sequence: 1 });
}

describe('compression refusals on a live link (the receiver drops the connection with E_COMPRESSION)', () => {
  const adapter = wireAdapter('rust', linkRegistry(registry));
  const value = chunk(1, text(50_000));
  const plain = adapter.encode(FileChunk, value, 1, 0);

  async function expectRefused(
    serverOptions: { compression?: CompressionAlgorithm[]; maxFrameSize?: number },
    offer: CompressionAlgorithm[],
    frame: Uint8Array,
  ): Promise<void> {
    const got: DecodedMessage[] = [];
    const drops: { code: string }[] = [];
    const s = await server(
      serverOptions,
      (m) => got.push(m),
      (e) => drops.push(e),
    );
    const r = await rawLink(s, offer);
    r.socket.write(frame);
    await r.closed;
    expect(drops).toEqual([expect.objectContaining({ code: 'E_COMPRESSION' })]);
    expect(got).toEqual([]);
  }

  it('zstd on a link that agreed on deflate only', async () => {
    const packed = adapter.encodeCompressed(FileChunk, value, plain, 1, 0, 'zstd')!;
    expect(packed).toBeDefined();
    await expectRefused({ compression: ['deflate'] }, ['zstd', 'deflate'], packed);
  });

  it('lz4 on a link where the receiver offered none', async () => {
    const packed = adapter.encodeCompressed(FileChunk, value, plain, 1, 0, 'lz4')!;
    await expectRefused({ compression: [] }, ['lz4'], packed);
  });

  it('a corrupt lz4 block with a correct CRC', async () => {
    const block = Buffer.from(lz4Compress(Buffer.from(plain.subarray(RUST_FRAME.headerSize))));
    block.fill(0xff, 8, 40);
    await expectRefused({}, ['lz4'], rustFrame(block, FRAME_FLAGS.COMPRESSION_LZ4));
  });

  for (const algorithm of ALGORITHMS) {
    it(`a ${algorithm} bomb: 4 MiB that decompresses beyond the 1 MiB frame limit`, async () => {
      const zeros = new Uint8Array(4 * 1024 * 1024);
      const bomb =
        algorithm === 'zstd'
          ? zstdCompress(zeros)
          : algorithm === 'lz4'
            ? lz4Compress(zeros)
            : deflateRawSync(zeros);
      expect(bomb.length).toBeLessThan(32 * 1024);
      await expectRefused(
        { maxFrameSize: 1024 * 1024 },
        [algorithm],
        rustFrame(bomb, compressionFlag(algorithm)),
      );
    });
  }
});
