/**
 * Counts what each load driver of the stress run saw: answers by kind, in one table for the summary.
 *
 * @module
 */

/** Outcomes by driver and kind: `{ "gateway reads": { "200": 812, "aborted": 90 } }`. */
export type Outcomes = Record<string, Record<string, number>>;

/**
 * A counter of outcomes per driver.
 *
 * @example
 * ```ts
 * const tally = new Tally();
 * tally.count("gateway reads", "200");
 * tally.outcomes(); // { "gateway reads": { "200": 1 } }
 * ```
 */
export class Tally {
  #outcomes: Outcomes = {};

  /** Counts one outcome of a driver. */
  count(driver: string, kind: string): void {
    const kinds = this.#outcomes[driver] ??= {};
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }

  /** Everything counted so far. */
  outcomes(): Outcomes {
    return structuredClone(this.#outcomes);
  }
}

/**
 * The kind of outcome of a fetch that failed: `aborted` (our own deadline or cancel), `reset` (the
 * connection went away), or the error's name.
 *
 * @example
 * ```ts
 * failureKind(new DOMException("signal timed out", "TimeoutError")); // "aborted"
 * ```
 */
export function failureKind(error: unknown): string {
  if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return "aborted";
  }
  if (error instanceof TypeError) return "connection error";
  return error instanceof Error ? error.name : "error";
}
