/** Limits of a {@link MessageHold}. */
export interface HoldLimits {
  /** Messages held per message type. */
  maxMessages: number;
  /** Payload bytes held over all types. */
  maxBytes: number;
}

interface Held<M> {
  message: M;
  typeId: number;
  bytes: number;
}

/**
 * Messages that arrived for a type nobody consumes yet, in arrival order, bounded per type (count) and in
 * all (payload bytes). The node hands them over once a consumer appears; what does not fit is refused.
 */
export class MessageHold<M> {
  readonly #limits: HoldLimits;
  #entries: Held<M>[] = [];
  readonly #perType = new Map<number, number>();
  #bytes = 0;

  constructor(limits: HoldLimits) {
    this.#limits = limits;
  }

  /** Messages held in all. */
  get size(): number {
    return this.#entries.length;
  }

  /** Messages of this type held now. */
  count(typeId: number): number {
    return this.#perType.get(typeId) ?? 0;
  }

  /** Keep a message; false when that would pass a limit (then nothing is kept). */
  add(message: M, typeId: number, bytes: number, force = false): boolean {
    const n = this.count(typeId);
    if (!force && (n >= this.#limits.maxMessages || this.#bytes + bytes > this.#limits.maxBytes))
      return false;
    this.#entries.push({ message, typeId, bytes });
    this.#perType.set(typeId, n + 1);
    this.#bytes += bytes;
    return true;
  }

  /** Take out, in arrival order, every message `wanted` accepts now. */
  take(wanted: (typeId: number, message: M) => boolean): M[] {
    const out: M[] = [];
    const keep: Held<M>[] = [];
    for (const e of this.#entries) {
      if (!wanted(e.typeId, e.message)) {
        keep.push(e);
        continue;
      }
      out.push(e.message);
      this.#bytes -= e.bytes;
      const n = this.count(e.typeId) - 1;
      if (n === 0) this.#perType.delete(e.typeId);
      else this.#perType.set(e.typeId, n);
    }
    this.#entries = keep;
    return out;
  }

  /** Counts per type id, for stats. */
  counts(): Map<number, number> {
    return new Map(this.#perType);
  }
}
