/** Bytes a fresh slab holds; frames are carved out of it one after another. */
const SLAB_SIZE = 64 * 1024;

/**
 * The encoders' output buffer: a slab that frames are written into back to back, the way Node's
 * `Buffer` pool and msgpackr work. Each encode returns a view of exactly its bytes and the next one
 * starts after it, so a returned frame is never overwritten and no per-frame allocation or copy is
 * needed. When a value does not fit what is left, its partial bytes move to a new slab sized for it;
 * the old slab lives on only as long as frames that view it.
 */
export class SlabWriter {
  buf: Uint8Array;
  dv: DataView;
  /** Where the value being encoded starts in `buf`. */
  start = 0;
  /** True while an encode runs (a getter that encodes again gets its own writer). */
  busy = false;
  /**
   * Set for a gather encode: bytes fields of at least `GATHER_MIN_BYTES` are then not copied but
   * recorded in `refs` as pairs (offset from `start`, the caller's array).
   */
  gather = false;
  refs: (number | Uint8Array)[] = [];

  /** Record `bytes` as standing at `pos` without copying it (gather encode). */
  refer(bytes: Uint8Array, pos: number): void {
    this.refs.push(pos - this.start, bytes);
  }

  constructor(size = SLAB_SIZE) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
  }

  /**
   * Make room for `need` more bytes after `pos` (which is past `start`): moves the partial value into a
   * new slab and returns its new write position.
   */
  grow(pos: number, need: number): number {
    const used = pos - this.start;
    const min = used + need;
    // Room for what is known plus slack for the fields after it, so a big bytes field is moved once.
    const size = min < SLAB_SIZE / 2 ? SLAB_SIZE : min + Math.max(4096, min >>> 3);
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.start, pos), 0);
    this.buf = next;
    this.dv = new DataView(next.buffer);
    this.start = 0;
    return used;
  }

  /** Hand out `buf[start .. end)` and move the start past it (8-byte aligned). */
  take(end: number): Uint8Array {
    const out = this.buf.subarray(this.start, end);
    const next = (end + 7) & ~7;
    this.start = next;
    // A slab that is nearly used up is replaced before the next value, not in the middle of it.
    if (this.buf.length - next < 256) {
      this.buf = new Uint8Array(SLAB_SIZE);
      this.dv = new DataView(this.buf.buffer);
      this.start = 0;
    }
    return out;
  }
}

const shared = new SlabWriter();

/** The shared writer, or a fresh one if an encode is already running (re-entrant encode from a getter). */
export function acquireWriter(): SlabWriter {
  if (shared.busy) return new SlabWriter(1024);
  shared.busy = true;
  return shared;
}

/** Give a writer back after an encode (successful or not). */
export function releaseWriter(w: SlabWriter): void {
  w.busy = false;
}
