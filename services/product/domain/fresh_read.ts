/**
 * Shares reads between callers without ever answering with something older than the caller's own call.
 *
 * @module
 */

/**
 * Runs a read at most once at a time per key, and gives each caller the result of a read that started
 * after the caller asked: a caller that arrives while a read is running waits for the next one, which
 * then serves everyone who arrived meanwhile. So any number of concurrent callers cost about one read
 * per read's duration, and each still sees every write that completed before it asked.
 *
 * @example
 * ```ts
 * const reads = new FreshRead<number>();
 * const answers = await Promise.all([1, 2, 3].map(() => reads.read("head", () => Promise.resolve(7))));
 * ```
 */
export class FreshRead<T> {
  #running = new Map<string, Promise<T>>();
  #queued = new Map<string, Promise<T>>();

  /** The result of a run of `read` for `key` that starts now or later. */
  read(key: string, read: () => Promise<T>): Promise<T> {
    const queued = this.#queued.get(key);
    if (queued) return queued;
    const running = this.#running.get(key);
    if (!running) return this.#start(key, read);
    const next = running.then(() => undefined, () => undefined).then(() => {
      this.#queued.delete(key);
      return this.#start(key, read);
    });
    this.#queued.set(key, next);
    return next;
  }

  #start(key: string, read: () => Promise<T>): Promise<T> {
    const run = read();
    this.#running.set(key, run);
    const forget = () => {
      if (this.#running.get(key) === run) this.#running.delete(key);
    };
    run.then(forget, forget);
    return run;
  }
}
