// What a call threw, as the stable error code tests compare (STYLE.md: guards check `code`, not instanceof).
import { expect } from 'vitest';
import { isTmeshError } from '../packages/core/src/index.js';

/** The code of the TmeshError `fn` throws; `not a TmeshError: …` for anything else; `no error` if none. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return isTmeshError(error) ? error.code : `not a TmeshError: ${String(error)}`;
  }
  return 'no error';
}

/** Expect `fn` to throw a TmeshError with exactly `code`. */
export function throwsCode(fn: () => unknown, code: string): void {
  expect(codeOf(fn), `expected TmeshError ${code}`).toBe(code);
}
