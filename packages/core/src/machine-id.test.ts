import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isTmeshError } from './errors.js';
import { getMachineId, resolveMachineId } from './machine-id.js';

describe('machine id', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tmesh-mid-'));
  const file = join(dir, 'machine-id');
  writeFileSync(file, 'abc123def456\n');

  it('prefers the override, then TMESH_MACHINE_ID, then the files', () => {
    expect(
      resolveMachineId({ override: 'box-1', env: { TMESH_MACHINE_ID: 'env-id' }, files: [file] }),
    ).toEqual({ id: 'box-1', source: 'override' });
    expect(resolveMachineId({ env: { TMESH_MACHINE_ID: 'env-id' }, files: [file] })).toEqual({
      id: 'env-id',
      source: 'env',
    });
    expect(resolveMachineId({ env: {}, files: [join(dir, 'missing'), file] })).toEqual({
      id: 'abc123def456',
      source: 'file',
    });
  });

  it('derives a stable id when no file exists', () => {
    const a = resolveMachineId({ env: {}, files: [join(dir, 'missing')] });
    const b = resolveMachineId({ env: {}, files: [] });
    expect(a.source).toBe('derived');
    expect(a.id).toMatch(/^[0-9a-f]{32}$/);
    expect(b.id).toBe(a.id);
  });

  it('rejects an override that cannot be an id', () => {
    try {
      getMachineId({ override: 'has space' });
      expect.unreachable();
    } catch (e) {
      expect(isTmeshError(e, 'E_MACHINE_ID')).toBe(true);
    }
  });

  it('reads this machine', () => {
    expect(getMachineId({ env: {} })).toMatch(/^[A-Za-z0-9._:-]+$/);
  });
});
