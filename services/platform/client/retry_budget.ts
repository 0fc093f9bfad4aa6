/**
 * A retry budget: retries may add at most a fixed share to the calls a client makes, so that when a
 * service is overloaded or failing its callers' retries cannot multiply its load (gRPC's retry
 * throttling and Envoy's `retry_budget` bound it the same way).
 *
 * @module
 */

/** Options of {@linkcode RetryBudget}. */
export interface RetryBudgetOptions {
  /** Retry tokens each call earns: the most retries per call over time (0.2 unless set). */
  ratio?: number;
  /** The most tokens saved up, and the tokens at the start: a burst of retries allowed at once (10 unless set). */
  burst?: number;
}

/**
 * A token bucket shared by every call of one client: each call (first attempt) earns `ratio` tokens, up
 * to `burst`; each retry spends one and is allowed only while one is left.
 *
 * @example
 * ```ts
 * const budget = new RetryBudget({ ratio: 0.1, burst: 2 });
 * budget.tryRetry(); // true (the starting burst)
 * budget.tryRetry(); // true
 * budget.tryRetry(); // false: spent
 * for (let i = 0; i < 10; i++) budget.onCall();
 * budget.tryRetry(); // true: ten calls earned one retry
 * ```
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #burst: number;
  #tokens: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.#ratio = options.ratio ?? 0.2;
    this.#burst = options.burst ?? 10;
    if (!(this.#ratio >= 0) || !(this.#burst >= 0)) {
      throw new RangeError(`a retry budget needs a ratio and a burst of 0 or more`);
    }
    this.#tokens = this.#burst;
  }

  /** The retries allowed right now (whole tokens). */
  get available(): number {
    return Math.floor(this.#tokens + 1e-9);
  }

  /** A call's first attempt: it earns the budget `ratio` tokens. */
  onCall(): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + this.#ratio);
  }

  /** Spends a token for one retry; false when none is left (then the call fails with its last error). */
  tryRetry(): boolean {
    // Sums of tenths are not exact in floating point: ten calls at 0.1 earn a whole token.
    if (this.#tokens + 1e-9 < 1) return false;
    this.#tokens = Math.max(0, this.#tokens - 1);
    return true;
  }
}
