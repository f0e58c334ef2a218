import { Buffer } from 'node:buffer';
import { tmeshError } from './errors.js';

/**
 * Bodies smaller than this are always new buffers (the allocation is cheap and a released big buffer is
 * kept for the big frames).
 */
export const REUSE_MIN = 64 * 1024;

/**
 * The body of a frame that spans reads, being assembled (the stream readers of every wire use one). It is
 * allocated once the frame's length passed the reader's checks, and filled by copies from chunks
 * (`append`) or by reads the caller points straight at its unfilled rest (`target`, then `landed`). A
 * rest handed to a read is leased until that read lands: `unlease`, called before a chunk from anywhere
 * else is taken, moves what is held to a new buffer first, so a read that lands late in the old one never
 * touches a body that was already handed out.
 *
 * A body is the caller's once `finish` returned it; a caller that knows nothing refers to it any more
 * (every message decoded from it was consumed) may `release` it, and the next body of a size it fits is
 * assembled in it instead of a new buffer: one allocation fewer per big frame, and none of the garbage
 * collections a stream of fresh megabyte buffers causes.
 */
export class FrameAssembly {
  #buf: Uint8Array | undefined;
  /** The buffer #buf is a view of (itself, or a released buffer it reuses). */
  #whole: Uint8Array | undefined;
  #fill = 0;
  /** The rest of #buf last handed to a read by `target` and not yet `landed`. */
  #lease: Uint8Array | undefined;
  /** The buffer of the body `finish` returned last, until `release`. */
  #finished: Uint8Array | undefined;
  /** A released buffer the next `begin` may reuse. */
  #spare: Uint8Array | undefined;

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
    const spare = this.#spare;
    if (spare !== undefined && size >= REUSE_MIN && size <= spare.length) {
      this.#spare = undefined;
      this.#whole = spare;
      this.#buf = size === spare.length ? spare : spare.subarray(0, size);
    } else {
      if (spare !== undefined && size >= REUSE_MIN) this.#spare = undefined; // too small for what comes
      this.#buf = this.#whole = Buffer.allocUnsafe(size); // filled completely before it is read
    }
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
    this.#finished = this.#whole;
    this.#buf = this.#whole = undefined;
    this.#lease = undefined;
    return buf;
  }

  /**
   * The caller is done with the body `finish` returned last: with `reuse`, nothing refers to it any more
   * and its buffer may hold the next body of REUSE_MIN bytes or more that fits in it; without, it stays
   * the caller's for good. Pass `reuse` only when that is known (a body still read after it would change
   * under its reader); without any call every body is a new buffer.
   */
  release(reuse: boolean): void {
    if (reuse && this.#finished !== undefined) this.#spare = this.#finished;
    this.#finished = undefined;
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
    this.#buf = this.#whole = moved;
  }

  /** Drop the body (after an error). */
  clear(): void {
    this.#buf = this.#whole = this.#finished = this.#spare = undefined;
    this.#lease = undefined;
    this.#fill = 0;
  }
}
