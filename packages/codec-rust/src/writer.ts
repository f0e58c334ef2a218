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

  /**
   * Set while the writer writes into a caller's buffer (`bindWriter`): a value that does not fit is not
   * moved to a new slab; the encode stops with `NO_ROOM` and `need` holds the room it asked for (the
   * bytes written so far plus those of the write that did not fit).
   */
  bounded = false;
  need = 0;

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
    if (this.bounded) {
      this.need = min;
      throw NO_ROOM;
    }
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

/**
 * What a writer bound to a caller's buffer throws when the value does not fit (a plain object, not an
 * Error: no stack is captured, and the frame codec catches it right away).
 */
export const NO_ROOM: { readonly reason: string } = Object.freeze({ reason: 'no room in the bound buffer' });

const shared = new SlabWriter();
const bound = new SlabWriter(0);

/**
 * The DataViews of the last few buffers `bindWriter` bound (each link of a process writes into its own
 * send block; one cached view would be rebuilt at every switch between them), replaced round robin.
 */
const BOUND_VIEWS = 4;
/** Buffers larger than this get a view per call: the cache must not keep a caller's big buffer alive. */
const BOUND_VIEW_MAX_BYTES = 256 * 1024;
const boundBuffers: (Uint8Array | undefined)[] = new Array(BOUND_VIEWS).fill(undefined);
const boundDvs: DataView[] = new Array(BOUND_VIEWS).fill(bound.dv);
let boundNext = 0;
/** The shared bound writer holds a buffer the cache refused: `releaseBoundWriter` lets go of it. */
let boundUncached = false;

function viewOf(buf: Uint8Array): DataView {
  boundUncached = false;
  for (let i = 0; i < BOUND_VIEWS; i++) if (boundBuffers[i] === buf) return boundDvs[i]!;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.buffer.byteLength > BOUND_VIEW_MAX_BYTES) {
    boundUncached = true;
    return dv;
  }
  boundBuffers[boundNext] = buf;
  boundDvs[boundNext] = dv;
  boundNext = (boundNext + 1) % BOUND_VIEWS;
  return dv;
}

/**
 * A writer that writes into `buf` from `at` on and throws `NO_ROOM` instead of growing (see
 * `SlabWriter.bounded`); give it back with `releaseWriter`. Its DataView is made once per buffer.
 */
export function bindWriter(buf: Uint8Array, at: number): SlabWriter {
  let w = bound;
  if (w.busy) w = new SlabWriter(0);
  w.busy = true;
  w.bounded = true;
  w.buf = buf;
  w.dv = w === bound ? viewOf(buf) : new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  w.start = at;
  return w;
}

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

const NO_BYTES = new Uint8Array(0);
const NO_VIEW = new DataView(NO_BYTES.buffer);

/** Give back a writer from `bindWriter`; it forgets a caller's buffer too big for the view cache. */
export function releaseBoundWriter(w: SlabWriter): void {
  w.bounded = false;
  // (A writer made because the shared one was busy is dropped by its caller anyway.)
  if (w === bound && boundUncached) {
    w.buf = NO_BYTES;
    w.dv = NO_VIEW;
    boundUncached = false;
  }
  w.busy = false;
}
