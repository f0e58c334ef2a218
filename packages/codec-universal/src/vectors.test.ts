// The cross-language proof of the universal wire against the real prost (Rust) and protoc:
// TypeScript-written envelopes decoded by prost and compared field by field with Rust's own copy of the
// values (interop/prost-check), prost-written envelopes decoded here and compared with ours, both on the
// committed vectors and on fresh files written during this run, including a 1 MiB bytes field.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageRegistry, sampleMessages } from '@tmesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUniversalCodec } from './codec.js';
import { readVarint, varint } from './envelope.js';
import { hex } from './testing/arbitrary.js';
import { BIG_SIZE, bigVector, encodeVectors, vectors } from './vectors.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const vectorDir = join(root, 'test-vectors/universal');
const { AllTypes, FileChunk, Metrics } = sampleMessages;
const codec = createUniversalCodec(new MessageRegistry([AllTypes, FileChunk, Metrics]));
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const binary = join(targetDir, 'release', 'prost-check');
let work = '';

function prostCheck(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(binary, args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  // The Rust side is built here, so a fresh checkout needs nothing but cargo (protoc comes vendored).
  execFileSync('cargo', ['build', '--release', '-p', 'prost-check'], {
    cwd: root,
    stdio: 'pipe',
    timeout: 570_000,
  });
  work = mkdtempSync(join(tmpdir(), 'tmesh-universal-'));
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('universal wire vectors: TypeScript -> prost', () => {
  it('the committed ts-vectors.bin is exactly what the TypeScript encoder writes today', () => {
    expect(hex(encodeVectors(codec))).toBe(hex(readFileSync(join(vectorDir, 'ts-vectors.bin'))));
  });

  it('prost decodes a freshly written file and finds every value Rust expects', () => {
    const file = join(work, 'ts-vectors.bin');
    writeFileSync(file, encodeVectors(codec));
    const r = prostCheck('check-vectors', file);
    expect(r.out).toContain('ok: 6 envelopes match');
    expect(r.status).toBe(0);
  });

  it('prost notices a changed value (the check can fail)', () => {
    const changed = vectors.map((v, i) =>
      i === 4 ? { ...v, value: { ...(v.value as object), offset: 4294967297n } } : v,
    );
    const file = join(work, 'ts-changed.bin');
    writeFileSync(file, encodeVectors(codec, changed));
    const r = prostCheck('check-vectors', file);
    expect(r.status).toBe(1);
    expect(r.out).toContain('vector 4: payload');
  });

  it('prost decodes a 1 MiB bytes field written by TypeScript', () => {
    const file = join(work, 'ts-big.bin');
    const bytes = encodeVectors(codec, [bigVector()]);
    expect(bytes.length).toBeGreaterThan(BIG_SIZE);
    writeFileSync(file, bytes);
    const r = prostCheck('check-big', file);
    expect(r.out).toContain('ok: 1 MiB envelope matches');
    expect(r.status).toBe(0);
  });
});

describe('universal wire vectors: prost -> TypeScript', () => {
  /** Split a length-delimited stream into its frames (prefix included). */
  function frames(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let pos = 0; pos < bytes.length; ) {
      expect(readVarint(bytes, pos, bytes.length)).toBe(true);
      const end = varint.pos + varint.lo;
      out.push(bytes.subarray(pos, end));
      pos = end;
    }
    return out;
  }

  function checkAgainstVectors(bytes: Uint8Array, list: typeof vectors): void {
    const decoder = codec.createDecoder();
    const messages = decoder.push(bytes);
    decoder.end();
    expect(messages.length).toBe(list.length);
    const theirs = frames(bytes);
    messages.forEach((m, i) => {
      const v = list[i]!;
      const { sequence, timestamp, flags, source, destination } = v.options;
      expect(m.type).toBe(v.type);
      expect(m.value).toEqual(v.value);
      expect(m.header).toMatchObject({ version: 1, messageType: v.type.id, sequence, timestamp, flags });
      expect(m.source).toBe(source);
      expect(m.destination).toBe(destination);
      // Where prost and protobufjs agree on the payload bytes, the whole frame is byte-identical.
      const ours = codec.encode(v.type, v.value, v.options);
      if (v.canonical) expect(hex(theirs[i]!)).toBe(hex(ours));
      else expect(theirs[i]!.length).toBeLessThan(ours.length); // prost leaves default map entries' key/value out
    });
  }

  it('the committed rust-vectors.bin decodes to every expected value', () => {
    checkAgainstVectors(readFileSync(join(vectorDir, 'rust-vectors.bin')), vectors);
  });

  it('a file prost writes now decodes to every expected value', () => {
    const file = join(work, 'rust-vectors.bin');
    expect(prostCheck('write-vectors', file).status).toBe(0);
    const fresh = readFileSync(file);
    expect(hex(fresh)).toBe(hex(readFileSync(join(vectorDir, 'rust-vectors.bin'))));
    checkAgainstVectors(fresh, vectors);
  });

  it('a 1 MiB bytes field written by prost decodes here, byte for byte', () => {
    const file = join(work, 'rust-big.bin');
    expect(prostCheck('write-big', file).status).toBe(0);
    const bytes = readFileSync(file);
    const [m] = codec.createDecoder({ copy: true }).push(bytes);
    const data = (m!.value as { data: Uint8Array }).data;
    expect(data.length).toBe(BIG_SIZE);
    const expected = (bigVector().value as { data: Uint8Array }).data;
    expect(Buffer.compare(data, expected)).toBe(0);
    expect(hex(bytes.subarray(0, 64))).toBe(hex(encodeVectors(codec, [bigVector()]).subarray(0, 64)));
  });
});

describe('universal wire vectors: protoc --decode', () => {
  it('protoc (vendored with prost-build) reads our envelope and payload with the committed .proto files', () => {
    const protoc = prostCheck('protoc').out.trim();
    const frame = codec.encode(FileChunk, vectors[4]!.value as never, vectors[4]!.options);
    const envelope = frame.subarray(1); // one-byte length prefix
    const envText = execFileSync(protoc, ['--decode=tmesh.Envelope', `-I${vectorDir}`, 'envelope.proto'], {
      input: envelope,
      encoding: 'utf8',
    });
    expect(envText).toContain('version: 1');
    expect(envText).toContain('message_type: 1');
    expect(envText).toContain('sequence: 5');
    expect(envText).toContain('timestamp: 1700000000005');
    expect(envText).toContain('source: "ts-node"');
    expect(envText).toContain('type_name: "tmesh.FileChunk"');
    const payload = codec.decode(frame);
    expect(envText).toContain(`checksum: ${payload.header.checksum}`);
    const payloadBytes = codec.compile(FileChunk.schema).encode(vectors[4]!.value as never);
    const text = execFileSync(protoc, ['--decode=tmesh.FileChunk', `-I${vectorDir}`, 'samples.proto'], {
      input: payloadBytes,
      encoding: 'utf8',
    });
    expect(text).toContain('offset: 4294967296');
    expect(text).toContain('sequence: 3');
    expect(text).toContain('last: true');
    expect(text).toContain('data: "\\000\\001\\002\\003');
  });
});
