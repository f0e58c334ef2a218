import { Buffer } from 'node:buffer';
import { tmeshError } from './errors.js';

/**
 * The body of a frame that spans reads, being assembled (the stream readers of every wire use one). It is
 * allocated once the frame's length passed the reader's checks, and filled by copies from chunks
 * (`append`) or by reads the caller points straight at its unfilled rest (`target`, then `landed`). A
 * rest handed to a read is leased until that read lands: `unlease`, called before a chunk from anywhere
 * else is taken, moves what is held to a new buffer first, so a read that lands late in the old one never
 * touches a body that was already handed out.
 */
export class FrameAssembly {
  #buf: Uint8Array | undefined;
  #fill = 0;
  /** The rest of #buf last handed to a read by `target` and not yet `landed`. */
  #lease: Uint8Array | undefined;

  /** Whether a body is being assembled. */
  get active(): boolean {
    return this.#buf !== undefined;
  }

  /** Bytes of the body held so far. */
  get fill(): number {
    return this.#fill;
  }

  /** Start a body of `size` bytes (a size the caller has checked against its limit). */
  begin(size: number): void {
    this.#buf = Buffer.allocUnsafe(size); // filled completely before it is read
    this.#fill = 0;
    this.#lease = undefined;
  }

  /** Copy from `src[from, to)` as many of the missing bytes as it holds; returns how many it took. */
  append(src: Uint8Array, from: number, to: number): number {
    const buf = this.#buf!;
    const take = Math.min(buf.length - this.#fill, to - from);
    if (take > 0) {
      buf.set(from === 0 && take === src.length ? src : src.subarray(from, from + take), this.#fill);
      this.#fill += take;
    }
    return take;
  }

  /** The body once every byte has arrived (the assembly ends), else undefined. */
  finish(): Uint8Array | undefined {
    const buf = this.#buf!;
    if (this.#fill < buf.length) return undefined;
    this.#buf = undefined;
    this.#lease = undefined;
    return buf;
  }

  /** The unfilled rest of the body, leased to one read, when at least `min` bytes are missing. */
  target(min: number): Uint8Array | undefined {
    const buf = this.#buf;
    if (buf === undefined || buf.length - this.#fill < min) return undefined;
    this.#lease = buf.subarray(this.#fill);
    return this.#lease;
  }

  /**
   * A read of `n` bytes landed in `buf`: true if `buf` is the current lease (the bytes are counted), false
   * if not (a lease given up since: the caller reads them as a chunk). A count that does not fit the lease
   * is E_INTERNAL.
   */
  landed(buf: Uint8Array, n: number): boolean {
    if (this.#lease === undefined || buf !== this.#lease) return false;
    this.#lease = undefined;
    const room = this.#buf!.length - this.#fill;
    if (!(Number.isInteger(n) && n > 0 && n <= room)) {
      throw tmeshError('E_INTERNAL', `a read of ${n} bytes does not fit the ${room} leased`);
    }
    this.#fill += n;
    return true;
  }

  /** Give up the lease, if any: the body continues in a copy of what it holds so far. */
  unlease(): void {
    if (this.#lease === undefined) return;
    this.#lease = undefined;
    const buf = this.#buf;
    if (buf === undefined) return;
    const moved = Buffer.allocUnsafe(buf.length); // filled completely before it is read
    moved.set(buf.subarray(0, this.#fill));
    this.#buf = moved;
  }

  /** Drop the body (after an error). */
  clear(): void {
    this.#buf = undefined;
    this.#lease = undefined;
    this.#fill = 0;
  }
}
