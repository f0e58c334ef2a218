import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isTmeshError, TmeshError, tmeshError } from './errors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('TmeshError', () => {
  it('carries code, message with the code, and cause', () => {
    const cause = new Error('disk on fire');
    const e = tmeshError('E_CHECKSUM', 'frame 7 is bad', { cause, details: { seq: 7 } });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('TmeshError');
    expect(e.code).toBe('E_CHECKSUM');
    expect(e.message).toBe('E_CHECKSUM: frame 7 is bad');
    expect(e.cause).toBe(cause);
    expect(e.details).toEqual({ seq: 7 });
  });

  it('guard works without instanceof (structural, e.g. another copy of the package)', () => {
    const foreign = Object.assign(new Error('x'), { name: 'TmeshError', code: 'E_TIMEOUT' });
    expect(isTmeshError(foreign)).toBe(true);
    expect(isTmeshError(foreign, 'E_TIMEOUT')).toBe(true);
    expect(isTmeshError(foreign, 'E_CLOSED')).toBe(false);
    expect(isTmeshError(new TmeshError('E_CLOSED', 'x'))).toBe(true);
  });

  it('guard rejects look-alikes', () => {
    expect(isTmeshError(new Error('x'))).toBe(false);
    expect(isTmeshError({ name: 'TmeshError', code: 'E_NOPE' })).toBe(false);
    expect(isTmeshError({ name: 'TmeshError' })).toBe(false);
    expect(isTmeshError(null)).toBe(false);
    expect(isTmeshError('E_TIMEOUT')).toBe(false);
  });

  it('every code is listed in docs/ERRORS.md with its meaning', () => {
    const doc = readFileSync(join(root, 'docs/ERRORS.md'), 'utf8');
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(doc, `${code} missing: run npx tsx scripts/gen-errors-doc.ts`).toContain(
        `| \`${code}\` | ${meaning} |`,
      );
    }
  });
});
