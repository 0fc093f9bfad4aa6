/**
 * Waits `ms` milliseconds, or less when `signal` (if any) aborts first (then it resolves at once: the loops that
 * use it check the signal right after). Never rejects.
 *
 * @example
 * ```ts ignore
 * while (!stop.signal.aborted) {
 *   await sleep(retryMs, stop.signal);
 * }
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
