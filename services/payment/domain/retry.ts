/**
 * Retrying a Stripe call with backoff within a deadline. The call must be idempotent (Stripe writes carry
 * an Idempotency-Key), so any number of attempts has the effect of one.
 *
 * @module
 */
import { GatewayUnavailableError } from "./ports.ts";

/** How retries are paced and bounded. */
export interface RetryPolicy {
  /** The longest one attempt may take, in ms (it is shortened to fit the deadline). */
  attemptTimeoutMs: number;
  /** The first pause between attempts, in ms; it doubles after each, with jitter. */
  baseDelayMs: number;
  /** The longest pause, in ms. */
  maxDelayMs: number;
  /** Attempts shorter than this are not started, in ms: they could not succeed. */
  minAttemptMs: number;
}

/** The clock and sleep retries use, replaceable in tests. */
export interface RetryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The real clock. */
export const systemClock: RetryClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Runs `attempt` until it succeeds, fails for good, or the deadline leaves no room for another attempt.
 * Only {@linkcode GatewayUnavailableError} is retried; the last one is thrown when time runs out.
 *
 * @example
 * ```ts
 * const policy = { attemptTimeoutMs: 10_000, baseDelayMs: 100, maxDelayMs: 2_000, minAttemptMs: 200 };
 * const answer = await retryWithinDeadline((timeoutMs) => Promise.resolve(timeoutMs), Date.now() + 5_000, policy);
 * ```
 */
export async function retryWithinDeadline<T>(
  attempt: (timeoutMs: number) => Promise<T>,
  deadline: number,
  policy: RetryPolicy,
  clock: RetryClock = systemClock,
): Promise<T> {
  let delay = policy.baseDelayMs;
  let last: GatewayUnavailableError | undefined;
  while (true) {
    const remaining = deadline - clock.now();
    if (remaining < policy.minAttemptMs) {
      throw last ?? new GatewayUnavailableError("no time left for a call to the payment processor");
    }
    try {
      return await attempt(Math.min(policy.attemptTimeoutMs, remaining));
    } catch (error) {
      if (!(error instanceof GatewayUnavailableError) || !error.retryable) throw error;
      last = error;
    }
    // Full jitter: concurrent retries of many calls spread out instead of arriving together.
    const pause = Math.min(delay, Math.max(0, deadline - clock.now() - policy.minAttemptMs));
    if (pause <= 0 && deadline - clock.now() < policy.minAttemptMs) throw last;
    await clock.sleep(pause / 2 + Math.random() * pause / 2);
    delay = Math.min(delay * 2, policy.maxDelayMs);
  }
}
