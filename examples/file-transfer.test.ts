import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FileTransferResult } from './file-transfer.js';
import { runExample } from './run-example.js';

const work = mkdtempSync(join(tmpdir(), 'tmesh-example-file-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('examples/file-transfer.ts', () => {
  it('streams a file in chunks with progress; the copy on the receiver has the same SHA-256', async () => {
    // An odd size, so the last chunk is short.
    const input = randomBytes(3 * 1024 * 1024 + 12_345);
    const file = join(work, 'input.bin');
    const out = join(work, 'copy.bin');
    writeFileSync(file, input);
    const run = await runExample<FileTransferResult>('file-transfer.ts', [
      '--file',
      file,
      '--out',
      out,
      '--chunk',
      String(64 * 1024),
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const copy = readFileSync(out);
    expect(copy.length).toBe(input.length);
    expect(sha256(copy)).toBe(sha256(input));
    expect(run.result).toMatchObject({
      bytes: input.length,
      chunks: Math.ceil(input.length / (64 * 1024)),
      sentSha256: sha256(input),
      receivedSha256: sha256(input),
      verified: true,
    });
    expect(['shm', 'unix', 'tcp']).toContain(run.result!.route);
    // Progress lines at each quarter.
    for (const pct of [25, 50, 75, 100]) expect(run.stdout).toMatch(new RegExp(`receiver: ${pct}% `));
  });

  it('exits non-zero with a clear error for a bad chunk size', async () => {
    const run = await runExample('file-transfer.ts', ['--size', '1000', '--chunk', '0']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/E_INVALID_ARGUMENT/);
  });
});
