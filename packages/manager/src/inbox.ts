import { tmeshError } from '@tmesh/core';

/**
 * A bounded async queue: producers `push` (false when full, so the caller can apply backpressure),
 * one consumer iterates with `for await`. Ending wakes the consumer.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  readonly #limit: number;
  #waiter: ((r: IteratorResult<T>) => void) | undefined;
  #spaceWaiters: (() => void)[] = [];
  #ended = false;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Add an item; false when the queue is full (the item is not added) or ended. */
  push(item: T): boolean {
    if (this.#ended) return false;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w({ value: item, done: false });
      return true;
    }
    if (this.#items.length >= this.#limit) return false;
    this.#items.push(item);
    return true;
  }

  /** Resolve when there is room again (or the queue ended). */
  whenSpace(): Promise<void> {
    if (this.#ended || this.#items.length < this.#limit) return Promise.resolve();
    return new Promise((r) => this.#spaceWaiters.push(r));
  }

  end(): void {
    this.#ended = true;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.({ value: undefined, done: true });
    for (const s of this.#spaceWaiters.splice(0)) s();
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.#items.shift();
    if (item !== undefined) {
      if (this.#spaceWaiters.length > 0 && this.#items.length < this.#limit) this.#spaceWaiters.shift()!();
      return Promise.resolve({ value: item, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter)
      return Promise.reject(tmeshError('E_INVALID_ARGUMENT', 'only one consumer may iterate this queue'));
    return new Promise((r) => {
      this.#waiter = r;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
