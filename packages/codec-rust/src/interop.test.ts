import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessageType } from '@tmesh/core';
import { MessageRegistry, sampleMessages } from '@tmesh/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRustCodec } from './index.js';
import { arbitraryOf } from './test-support/arbitrary.js';
import { hex, viewOf } from './test-support/view.js';
import { COMMITTED_CASES, type VectorCase, vectorCases } from './vector-cases.js';

/**
 * The cross-language proof for the Rust wire. interop/bincode-check (real `bincode` 1.3, `serde`,
 * `crc32fast`) declares the same cases independently. Committed files go both ways
 * (test-vectors/rust/ts written here, test-vectors/rust/rs written by Rust); when cargo is available
 * this test also builds the crate and has it decode frames written in this run, and write frames
 * (including the 1 MiB one) that this side decodes.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const vectors = join(root, 'test-vectors/rust');
const registry = new MessageRegistry([
  sampleMessages.FileChunk,
  sampleMessages.AllTypes,
  sampleMessages.Metrics,
]);
const codec = createRustCodec(registry);

function encodeCase(c: VectorCase): Uint8Array {
  return codec.encode(c.type, c.value, { sequence: c.sequence, timestamp: c.timestamp, flags: c.flags });
}

/** What `bincode-check decode` prints for a frame carrying `value`. */
function frameView(
  type: MessageType<any>,
  value: unknown,
  header: { sequence: number; timestamp: number; flags: number },
) {
  return {
    messageType: type.id,
    flags: header.flags,
    sequence: header.sequence,
    timestamp: String(header.timestamp),
    value: viewOf(type.schema.desc, value),
  };
}

/** Decode a Rust-written frame here and compare every field with this side's declaration. */
function expectDecodesTo(frame: Uint8Array, c: VectorCase): void {
  const decoded = codec.decode(frame);
  expect(decoded.type).toBe(c.type);
  expect(decoded.header).toMatchObject({ sequence: c.sequence, timestamp: c.timestamp, flags: c.flags });
  expect(viewOf(c.type.schema.desc, decoded.value)).toEqual(viewOf(c.type.schema.desc, c.value));
}

const committed = vectorCases().filter((c) => COMMITTED_CASES.includes(c.name));

describe('Rust wire vectors: committed files', () => {
  it.each(committed.map((c) => [c.name, c] as const))(
    'TypeScript still writes test-vectors/rust/ts/%s.bin exactly',
    (name, c) => {
      expect(hex(encodeCase(c))).toBe(hex(readFileSync(join(vectors, 'ts', `${name}.bin`))));
    },
  );

  it.each(committed.map((c) => [c.name, c] as const))(
    'decodes test-vectors/rust/rs/%s.bin written by Rust bincode',
    (name, c) => {
      expectDecodesTo(new Uint8Array(readFileSync(join(vectors, 'rs', `${name}.bin`))), c);
    },
  );
});

const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
const hasCargo = cargo.status === 0;

describe.skipIf(!hasCargo)('Rust wire vectors: live against interop/bincode-check (real bincode 1.3)', () => {
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
  const bin = join(targetDir, 'release', 'bincode-check');
  let work = '';

  beforeAll(() => {
    const build = spawnSync('cargo', ['build', '--release', '-p', 'bincode-check'], {
      cwd: root,
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`cargo build -p bincode-check failed:\n${build.stderr}`);
    work = mkdtempSync(join(tmpdir(), 'tmesh-rust-wire-'));
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function rustDecode(frame: Uint8Array): unknown {
    const path = join(work, 'frame.bin');
    writeFileSync(path, frame);
    const run = spawnSync(bin, ['decode', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(`bincode-check rejected the frame: ${run.stderr}`);
    return JSON.parse(run.stdout);
  }

  it.each(vectorCases().map((c) => [c.name, c] as const))(
    'TS -> Rust: bincode::deserialize reads %s field by field',
    (_name, c) => {
      expect(rustDecode(encodeCase(c))).toEqual(frameView(c.type, c.value, c));
    },
  );

  it.each(vectorCases().map((c) => [c.name, c] as const))(
    'Rust -> TS: decodes %s as written by bincode::serialize',
    (name, c) => {
      const path = join(work, `${name}.rs.bin`);
      const run = spawnSync(bin, ['write', name, path], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const frame = new Uint8Array(readFileSync(path));
      expectDecodesTo(frame, c);
      // Both implementations write the same bytes for the same value.
      expect(Buffer.compare(frame, encodeCase(c))).toBe(0);
    },
  );

  it('TS -> Rust: random AllTypes values (fast-check) decode to the same fields', () => {
    const type = sampleMessages.AllTypes;
    // Rust's BTreeMap re-serializes in key order (UTF-8 byte order); write the maps in that order.
    const sorted = arbitraryOf(type.schema.desc).map((v: any) => ({
      ...v,
      counts: new Map(
        [...(v.counts as Map<string, bigint>)].sort((a, b) =>
          Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])),
        ),
      ),
    }));
    fc.assert(
      fc.property(sorted, fc.nat(0xffffffff), (value, sequence) => {
        const frame = codec.encode(type, value, { sequence, timestamp: 1_700_000_000_000 });
        expect(rustDecode(frame)).toEqual(
          frameView(type, value, { sequence, timestamp: 1_700_000_000_000, flags: 0 }),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('the checker can fail: Rust rejects a frame with a flipped payload bit', () => {
    const frame = encodeCase(committed[3]!).slice();
    frame[frame.length - 1]! ^= 1;
    expect(() => rustDecode(frame)).toThrow(/CRC-32/);
  });
});
