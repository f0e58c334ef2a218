/** Totals of one sliding time window. */
export interface WindowTotals {
  bytes: number;
  messages: number;
  failures: number;
  /** Seconds the totals cover (from the first event, at most the window length, at least one bucket). */
  seconds: number;
}

/**
 * Counters over a sliding window of `buckets` time buckets of `bucketMs` each: bytes, messages and
 * failures in the last `bucketMs * buckets` milliseconds. Adding is O(1); reading is O(buckets).
 */
export class SlidingWindow {
  private readonly epochs: Float64Array;
  private readonly bytes: Float64Array;
  private readonly messages: Float64Array;
  private readonly failures: Float64Array;
  private firstMs = Number.NaN;

  constructor(
    readonly bucketMs: number,
    readonly buckets: number,
  ) {
    this.epochs = new Float64Array(buckets).fill(-1);
    this.bytes = new Float64Array(buckets);
    this.messages = new Float64Array(buckets);
    this.failures = new Float64Array(buckets);
  }

  /** Adds events that happened at `nowMs`. */
  add(nowMs: number, bytes: number, messages: number, failures: number): void {
    if (Number.isNaN(this.firstMs)) this.firstMs = nowMs;
    const epoch = Math.floor(nowMs / this.bucketMs);
    const i = epoch % this.buckets;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.bytes[i] = 0;
      this.messages[i] = 0;
      this.failures[i] = 0;
    }
    this.bytes[i]! += bytes;
    this.messages[i]! += messages;
    this.failures[i]! += failures;
  }

  /** Totals of the buckets still inside the window at `nowMs`. */
  totals(nowMs: number): WindowTotals {
    const epoch = Math.floor(nowMs / this.bucketMs);
    let bytes = 0;
    let messages = 0;
    let failures = 0;
    for (let i = 0; i < this.buckets; i++) {
      const e = this.epochs[i]!;
      if (e > epoch - this.buckets && e <= epoch) {
        bytes += this.bytes[i]!;
        messages += this.messages[i]!;
        failures += this.failures[i]!;
      }
    }
    const windowMs = this.bucketMs * this.buckets;
    const spanMs = Number.isNaN(this.firstMs)
      ? windowMs
      : Math.min(windowMs, Math.max(this.bucketMs, nowMs - this.firstMs));
    return { bytes, messages, failures, seconds: spanMs / 1000 };
  }
}

/** A fixed ring of the last `size` numbers, with their median. */
export class SampleRing {
  private readonly values: Float64Array;
  private count = 0;
  private next = 0;

  constructor(size: number) {
    this.values = new Float64Array(size);
  }

  push(value: number): void {
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.values.length;
    if (this.count < this.values.length) this.count++;
  }

  /** Number of samples held. */
  get size(): number {
    return this.count;
  }

  /** The median of the samples held, undefined when empty. */
  median(): number | undefined {
    if (this.count === 0) return undefined;
    const sorted = Array.from(this.values.subarray(0, this.count)).sort((a, b) => a - b);
    const mid = this.count >> 1;
    return this.count % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }

  /** The sum of the samples held. */
  sum(): number {
    let s = 0;
    for (let i = 0; i < this.count; i++) s += this.values[i]!;
    return s;
  }
}
