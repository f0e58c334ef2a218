// The addon's zstd and lz4 (crates/node/src/compress.rs). zstd frames are checked against the reference
// zstd CLI in both directions; lz4 against the block format by hand (the lz4 CLI writes the frame
// format, which this protocol does not use).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codeOf } from '../../../test-support/errors.js';
import {
  compressionAvailable,
  lz4Compress,
  lz4Decompress,
  ZSTD_DEFAULT_LEVEL,
  zstdCompress,
  zstdDecompress,
} from './compress.js';

const hasZstdCli = spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasZstdCli) {
  if (process.env.CI) throw new Error('the zstd CLI is missing (scripts/tmesh-run.mjs installs it in CI)');
  console.warn('zstd CLI checks skipped: apt-get install -y zstd');
}

function text(size: number): Buffer {
  const parts: string[] = [];
  for (let i = 0, n = 0; n < size; i++) {
    const line = `${i} GET /api/v1/items/${(i * 7919) % 1000} 200 ${(i * 31) % 977}ms\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

const dir = mkdtempSync(join(tmpdir(), 'tmesh-zstd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('zstd and lz4 from the addon', () => {
  it('is available (the addon is built)', () => {
    expect(compressionAvailable()).toEqual({ available: true });
  });

  it('round-trips empty, small, text and random payloads; any Uint8Array view works', () => {
    const random = Buffer.from(Array.from({ length: 100_000 }, (_, i) => ((i * 2654435761) >>> 13) & 0xff));
    const big = text(3 * 1024 * 1024);
    const view = new Uint8Array(big.buffer, big.byteOffset + 5, 1000);
    for (const payload of [new Uint8Array(0), Buffer.from('x'), text(10_000), random, big, view]) {
      expect(
        Buffer.from(zstdDecompress(zstdCompress(payload), payload.length)).equals(Buffer.from(payload)),
      ).toBe(true);
      expect(
        Buffer.from(lz4Decompress(lz4Compress(payload), payload.length)).equals(Buffer.from(payload)),
      ).toBe(true);
    }
    // Levels trade speed for size; out-of-range levels are clamped to 1..19.
    const t = text(200_000);
    expect(zstdCompress(t, 19).length).toBeLessThanOrEqual(zstdCompress(t, 1).length);
    expect(zstdDecompress(zstdCompress(t, 99), t.length).length).toBe(t.length);
    expect(zstdDecompress(zstdCompress(t, -5), t.length).length).toBe(t.length);
    expect(ZSTD_DEFAULT_LEVEL).toBe(3);
  });

  it.skipIf(!hasZstdCli)('writes frames the reference zstd CLI reads, and reads what it writes', () => {
    const payload = text(300_000);
    const ours = join(dir, 'ours.zst');
    writeFileSync(ours, zstdCompress(payload));
    expect(execFileSync('zstd', ['-d', '-c', '-q', ours]).equals(payload)).toBe(true);
    // The CLI compressing a file records its content size: what the protocol requires.
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, payload);
    for (const level of ['-1', '-3', '-19']) {
      const theirs = execFileSync('zstd', [level, '-c', '-q', plain]);
      expect(Buffer.from(zstdDecompress(theirs, payload.length)).equals(payload)).toBe(true);
    }
    // From a pipe it cannot know the size: such a frame is refused (E_COMPRESSION), not guessed.
    const streamed = execFileSync('zstd', ['-c', '-q'], { input: payload });
    expect(codeOf(() => zstdDecompress(streamed, 1 << 20))).toBe('E_COMPRESSION');
    // With --content-size absent but a checksum: still one frame, still refused without the size.
    expect(
      codeOf(() => zstdDecompress(execFileSync('zstd', ['-c', '-q', '--no-content-size', plain]), 1 << 20)),
    ).toBe('E_COMPRESSION');
  });

  it('lz4 bytes: u32 LE size, then an LZ4 block (a literal-only block decodes by hand)', () => {
    const out = lz4Compress(Buffer.from('abc'));
    // Size 3, then token 0x30 (3 literals, no match), then the literals.
    expect([...out]).toEqual([3, 0, 0, 0, 0x30, 0x61, 0x62, 0x63]);
    expect(lz4Decompress(Buffer.from([5, 0, 0, 0, 0x50, 104, 101, 108, 108, 111]), 5).toString()).toBe(
      'hello',
    );
  });

  it('refuses bombs before allocating, and corrupt or lying payloads, with E_COMPRESSION', () => {
    const zeros = new Uint8Array(16 * 1024 * 1024);
    const zbomb = zstdCompress(zeros);
    const lbomb = lz4Compress(zeros);
    expect(zbomb.length).toBeLessThan(4096);
    expect(lbomb.length).toBeLessThan(70_000);
    expect(codeOf(() => zstdDecompress(zbomb, 1024 * 1024))).toBe('E_COMPRESSION');
    expect(codeOf(() => lz4Decompress(lbomb, 1024 * 1024))).toBe('E_COMPRESSION');
    // A 4 GiB claim costs nothing to refuse.
    expect(codeOf(() => lz4Decompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x10, 0x61]), 64 << 20))).toBe(
      'E_COMPRESSION',
    );
    // A block that holds fewer bytes than its prefix declares.
    expect(codeOf(() => lz4Decompress(Buffer.from([9, 0, 0, 0, 0x30, 0x61, 0x62, 0x63]), 100))).toBe(
      'E_COMPRESSION',
    );
    expect(codeOf(() => lz4Decompress(Buffer.from([1, 0]), 100))).toBe('E_COMPRESSION');
    const z = Buffer.from(zstdCompress(text(50_000)));
    expect(codeOf(() => zstdDecompress(z.subarray(0, z.length - 10), 1 << 20))).toBe('E_COMPRESSION');
    expect(codeOf(() => zstdDecompress(Buffer.concat([z, Buffer.from([0])]), 1 << 20))).toBe('E_COMPRESSION');
    // A flipped byte: zstd frames carry no content checksum here (the frame's CRC-32 over the compressed
    // bytes is what catches corruption on a link), so it either fails to decode or decodes to other bytes.
    const flipped = Buffer.from(z);
    flipped[flipped.length >> 1]! ^= 0xff;
    let out: Buffer | undefined;
    const code = codeOf(() => {
      out = zstdDecompress(flipped, 1 << 20);
    });
    expect(code === 'E_COMPRESSION' || !out!.equals(text(50_000))).toBe(true);
    expect(codeOf(() => zstdDecompress(Buffer.from('plain bytes'), 1 << 20))).toBe('E_COMPRESSION');
    expect(codeOf(() => zstdDecompress(z, -1))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => lz4Compress('abc' as unknown as Uint8Array))).toBe('E_INVALID_ARGUMENT');
  });
});
