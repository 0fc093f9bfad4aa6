/**
 * The rule that slows password guessing: each throttle key (an account and a client address, or an
 * address over all accounts) gets a few attempts at once, then waits that double after each attempt.
 * Pure functions over the key's state; the stores apply them atomically (one row lock, or one
 * synchronous step in memory), so concurrent guesses cannot all slip through one free slot.
 *
 * @module
 */

/** How the waits between the attempts of one key grow. */
export interface AttemptSchedule {
  /** Attempts allowed one after another before the first wait (at least 1). */
  free: number;
  /** The first wait, in ms; each attempt after it doubles the wait. */
  firstWaitMs: number;
  /** The longest wait, in ms. */
  maxWaitMs: number;
  /** A key left alone this long after its wait ended starts over, in ms. */
  resetAfterMs: number;
}

/** What a store keeps per key: how many attempts count and when the last one was let through. */
export interface AttemptState {
  attempts: number;
  lastTime: Date;
}

/** Whether an attempt may go ahead now. */
export type AttemptDecision =
  /** It may: `state` is what the store keeps from now on. */
  | { admitted: true; state: AttemptState }
  /** Not before `retryAt`; the store keeps what it had. */
  | { admitted: false; retryAt: Date };

/**
 * The wait after `attempts` counted attempts before the next one may start, in ms.
 *
 * @example
 * ```ts
 * const schedule = { free: 3, firstWaitMs: 1_000, maxWaitMs: 60_000, resetAfterMs: 900_000 };
 * [1, 2, 3, 4, 5].map((n) => waitAfter(schedule, n)); // [0, 0, 1000, 2000, 4000]
 * ```
 */
export function waitAfter(schedule: AttemptSchedule, attempts: number): number {
  const over = attempts - Math.max(1, schedule.free);
  if (over < 0) return 0;
  // 2^over overflows to Infinity for huge counts; the cap keeps it finite.
  return Math.min(schedule.maxWaitMs, schedule.firstWaitMs * 2 ** Math.min(over, 52));
}

/**
 * Decides one attempt of a key from its stored state (undefined: never seen, or forgotten).
 *
 * @example
 * ```ts
 * const schedule = { free: 1, firstWaitMs: 1_000, maxWaitMs: 60_000, resetAfterMs: 900_000 };
 * const first = admitAttempt(schedule, undefined, new Date(0)); // admitted, attempts 1
 * if (first.admitted) admitAttempt(schedule, first.state, new Date(500)); // refused until 1000
 * ```
 */
export function admitAttempt(
  schedule: AttemptSchedule,
  current: AttemptState | undefined,
  now: Date,
): AttemptDecision {
  let attempts = current?.attempts ?? 0;
  let lastTime = now;
  if (current && attempts > 0) {
    const wait = waitAfter(schedule, attempts);
    const nextTime = current.lastTime.getTime() + wait;
    // Concurrent callers read the clock before they queue for the key, so `now` may be a little older
    // than the last attempt: that is no reason to refuse while no wait is due.
    if (wait > 0 && now.getTime() < nextTime) return { admitted: false, retryAt: new Date(nextTime) };
    if (now.getTime() >= nextTime + schedule.resetAfterMs) attempts = 0;
    if (current.lastTime > now) lastTime = current.lastTime;
  }
  return { admitted: true, state: { attempts: attempts + 1, lastTime } };
}

/**
 * The state after an admitted attempt turned out not to be a guess (the right password): it no longer
 * counts, so the key's next wait is what it was before.
 *
 * @example
 * ```ts
 * releaseAttempt({ attempts: 3, lastTime: new Date(0) }); // { attempts: 2, lastTime: 1970-01-01 }
 * ```
 */
export function releaseAttempt(current: AttemptState): AttemptState {
  return { attempts: Math.max(0, current.attempts - 1), lastTime: current.lastTime };
}
