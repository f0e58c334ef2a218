/** Helpers every command shares: tables for people, JSON for scripts, a progress bar on long work. */

/** Render rows as an aligned text table with a header rule. Numbers are right-aligned. */
export function renderTable(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** A one-line progress bar on stderr when it is a terminal; silent otherwise (CI logs stay clean). */
export class Progress {
  readonly #total: number;
  readonly #label: string;
  readonly #tty: boolean;
  #last = 0;

  constructor(label: string, total: number, stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#total = Math.max(1, total);
    this.#tty = Boolean(stream.isTTY);
  }

  update(done: number): void {
    if (!this.#tty) return;
    const now = Date.now();
    if (now - this.#last < 80 && done < this.#total) return;
    this.#last = now;
    const frac = Math.min(1, done / this.#total);
    const width = 28;
    const filled = Math.round(frac * width);
    process.stderr.write(
      `\r${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%`,
    );
  }

  done(): void {
    if (this.#tty) process.stderr.write('\n');
  }
}

/** Exit code for bad arguments or usage, distinct from operational failures (1). */
export const EXIT_USAGE = 2;
