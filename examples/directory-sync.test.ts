import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTmeshError } from '@tmesh/core';
import { afterAll, describe, expect, it } from 'vitest';
import { applyBatch, type DirectorySyncResult } from './directory-sync.js';
import { runExample } from './run-example.js';

const work = mkdtempSync(join(tmpdir(), 'tmesh-example-sync-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Every file under root with its mode and bytes, walked independently of the example's own code. */
function snapshot(root: string, prefix = ''): Record<string, { mode: number; bytes: string }> {
  const out: Record<string, { mode: number; bytes: string }> = {};
  for (const name of readdirSync(join(root, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const stat = statSync(join(root, rel));
    if (stat.isDirectory()) Object.assign(out, snapshot(root, rel));
    else out[rel] = { mode: stat.mode & 0o777, bytes: readFileSync(join(root, rel)).toString('base64') };
  }
  return out;
}

describe('examples/directory-sync.ts', () => {
  it('syncs a tree in one batch, then its edits, renames and deletes in a second; target equals source', async () => {
    const run = await runExample<DirectorySyncResult>('directory-sync.ts', ['--work', work]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const source = snapshot(join(work, 'source'));
    const target = snapshot(join(work, 'target'));
    expect(Object.keys(target).sort()).toEqual([
      'CHANGELOG.md',
      'README.md',
      'assets/blob.bin',
      'docs/done.txt',
      'docs/guide.md',
      'run.sh',
    ]);
    expect(target).toEqual(source);
    expect(target['run.sh']!.mode).toBe(0o755);
    expect(Buffer.from(target['docs/guide.md']!.bytes, 'base64').toString()).toBe(
      'step one\nstep two\nstep three\n',
    );
    expect(run.result!.verified).toBe(true);
    expect(run.result!.batches.map((b) => [b.batch, b.ops, b.applied])).toEqual([
      [1, 9, 9],
      [2, 5, 5],
    ]);
    for (const b of run.result!.batches) expect(b.manifest).toBe(b.expected);
  });

  it('refuses a batch path that leaves the synced directory', () => {
    const root = mkdtempSync(join(work, 'escape-'));
    for (const path of ['../outside.txt', '/etc/passwd', 'a/../../b', '']) {
      let error: unknown;
      try {
        applyBatch(root, [{ kind: 'Write', value: { path, mode: 0o644, data: new Uint8Array([1]) } }]);
      } catch (e) {
        error = e;
      }
      expect(isTmeshError(error, 'E_INVALID_ARGUMENT')).toBe(true);
    }
    expect(readdirSync(work).includes('outside.txt')).toBe(false);
  });
});
