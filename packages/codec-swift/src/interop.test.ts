// Cross-language proof against Python `msgpack` (an independent MessagePack implementation), both ways:
// Python decodes the frames TypeScript wrote (header, zlib.crc32, every value, and its own re-encoding
// byte for byte), and TypeScript decodes the frames Python wrote.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageRegistry, sampleMessages } from '@tmesh/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createSwiftCodec } from './index.js';
import {
  bigChunkCase,
  PYTHON_CHECKER,
  PYTHON_ONLY_CASES,
  VECTOR_CASES,
  VECTOR_DIR,
  VECTOR_TIMESTAMP,
  type VectorCase,
} from './test-support/vectors.js';

const codec = createSwiftCodec(
  new MessageRegistry([sampleMessages.FileChunk, sampleMessages.AllTypes, sampleMessages.Metrics]),
);

const encodeCase = (c: VectorCase): Uint8Array =>
  codec.encode(c.type, c.value, { sequence: c.sequence, timestamp: VECTOR_TIMESTAMP + c.sequence });

function expectDecodes(c: VectorCase, frame: Uint8Array): void {
  const m = codec.decode(frame);
  expect(m.type).toBe(c.type);
  expect(m.header.sequence).toBe(c.sequence);
  expect(m.header.timestamp).toBe(VECTOR_TIMESTAMP + c.sequence);
  expect(m.header.flags).toBe(0);
  // toEqual compares NaN as equal to NaN and bigint by value; -0 and 0 differ. Big byte arrays are
  // compared with Buffer.equals (toEqual walks them element by element).
  const { data, ...rest } = m.value as { data?: Uint8Array };
  const { data: want, ...wantRest } = c.value as { data?: Uint8Array };
  if (want && want.length > 65536) {
    expect(Buffer.from(data!.buffer, data!.byteOffset, data!.length).equals(want)).toBe(true);
    expect(rest).toEqual(wantRest);
  } else expect(m.value).toEqual(c.value);
}

const python = spawnSync(
  'python3',
  ['-c', 'import msgpack, sys; sys.stdout.write(".".join(map(str, msgpack.version)))'],
  {
    encoding: 'utf8',
  },
);
const pythonReady = python.status === 0;
const skipReason = pythonReady
  ? ''
  : `python3 with the msgpack module is missing (${python.error?.message ?? python.stderr.trim().split('\n').pop()}): pip install msgpack==1.1.2`;
if (!pythonReady) console.warn(`[codec-swift interop] SKIPPING the Python side: ${skipReason}`);

const tmp = mkdtempSync(join(tmpdir(), 'tmesh-swift-vectors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runChecker(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('python3', [PYTHON_CHECKER, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('committed vectors (no Python needed)', () => {
  it.each(VECTOR_CASES.map((c) => [c.name, c] as const))(
    'ts/%s.swft is exactly what the encoder writes today',
    (name, c) => {
      const committed = new Uint8Array(readFileSync(join(VECTOR_DIR, 'ts', `${name}.swft`)));
      expect(Buffer.from(encodeCase(c)).toString('hex')).toBe(Buffer.from(committed).toString('hex'));
    },
  );

  it.each([...VECTOR_CASES, ...PYTHON_ONLY_CASES].map((c) => [c.name, c] as const))(
    'python/%s.swft (written by Python msgpack) decodes to the expected value',
    (name, c) => {
      expectDecodes(c, new Uint8Array(readFileSync(join(VECTOR_DIR, 'python', `${name}.swft`))));
    },
  );

  it('every committed file is covered by a case', () => {
    const names = new Set([...VECTOR_CASES, ...PYTHON_ONLY_CASES].map((c) => `${c.name}.swft`));
    for (const dir of ['ts', 'python']) {
      for (const file of readdirSync(join(VECTOR_DIR, dir))) expect(names).toContain(file);
    }
  });
});

describe.skipIf(!pythonReady)(`Python msgpack ${python.stdout} runs now`, () => {
  it('decodes and re-encodes every frame TypeScript writes, including 1 MiB of bytes', () => {
    const dir = join(tmp, 'from-ts');
    mkdirSync(dir, { recursive: true });
    for (const c of [...VECTOR_CASES, bigChunkCase()])
      writeFileSync(join(dir, `${c.name}.swft`), encodeCase(c));
    const { status, out } = runChecker(['verify', dir, '--big']);
    expect(out).toContain(`${VECTOR_CASES.length + 1}/${VECTOR_CASES.length + 1} frames match`);
    expect(status, out).toBe(0);
  });

  it('rejects a TypeScript frame whose value differs from its expectation (the check can fail)', () => {
    const dir = join(tmp, 'tampered');
    mkdirSync(dir, { recursive: true });
    for (const c of VECTOR_CASES) {
      const value = c.name === 'filechunk_small' ? { ...(c.value as object), sequence: 4 } : c.value;
      writeFileSync(join(dir, `${c.name}.swft`), encodeCase({ ...c, value }));
    }
    const { status, out } = runChecker(['verify', dir]);
    expect(status).toBe(1);
    expect(out).toMatch(/FAIL filechunk_small: filechunk_small\.sequence: int differs/);
  });

  it('writes frames (including 1 MiB of bytes) that TypeScript decodes to the expected values', () => {
    const dir = join(tmp, 'from-python');
    const { status, out } = runChecker(['write', dir, '--big']);
    expect(status, out).toBe(0);
    for (const c of [...VECTOR_CASES, ...PYTHON_ONLY_CASES, bigChunkCase()]) {
      expectDecodes(c, new Uint8Array(readFileSync(join(dir, `${c.name}.swft`))));
    }
    // The committed Python vectors are what Python writes today.
    for (const c of [...VECTOR_CASES, ...PYTHON_ONLY_CASES]) {
      expect(
        readFileSync(join(dir, `${c.name}.swft`)).equals(
          readFileSync(join(VECTOR_DIR, 'python', `${c.name}.swft`)),
        ),
      ).toBe(true);
    }
  });
});
