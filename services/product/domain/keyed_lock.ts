/**
 * Runs async work one at a time per key, within this process.
 *
 * The stock log is correct without it (a unique insert decides every move), but optimistic writers on
 * one hot product waste most of their round trips losing to each other and retrying. Queuing the
 * writers of one instance behind each other leaves only the instances to contend, so a popular product
 * sees a few conflicts instead of one per concurrent request.
 *
 * @example
 * ```ts
 * const lock = new KeyedLock();
 * await Promise.all([1, 2, 3].map((n) => lock.run("p-1", async () => n)));
 * ```
 */
export class KeyedLock {
  #tails = new Map<string, Promise<unknown>>();

  /** Runs `work` after every earlier `run` with the same key has settled; returns its result. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(() => {}, () => {});
    this.#tails.set(key, tail);
    // Forget the key once nobody waits behind this run, so the map stays small.
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** How many keys have work queued or running (for tests). */
  get size(): number {
    return this.#tails.size;
  }
}
