// Polling for a condition another process or an event loop turn makes true.

/** Resolve once `fn()` is true; reject after `ms` (the error names `what`). */
export async function until(fn: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  if (!(await within(fn, ms))) throw new Error(`timed out waiting for ${what} (${ms} ms)`);
}

/** Whether `fn()` became true within `ms` (polled every 20 ms, and once more at the end). */
export async function within(fn: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return fn();
}
