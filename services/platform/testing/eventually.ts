/**
 * Polling until something holds, for tests that wait on another process, a server or a background job.
 *
 * @module
 */

/** What a probe of {@linkcode eventually} returns while the thing it waits for has not happened yet. */
export type NotYet = undefined | null | false;

/** Options of {@linkcode eventually}. */
export interface EventuallyOptions {
  /** How long to keep trying, in ms (15000). Generous: the machine may be busy; this is no timing assertion. */
  timeoutMs?: number;
  /** The pause between two probes, in ms (100). */
  intervalMs?: number;
  /** What the failure message says was last seen (the probe's last error otherwise). */
  lastSeen?: () => unknown;
}

/**
 * Calls `probe` until it returns a value (anything but `undefined`, `null` or `false`) and returns that
 * value. A probe that throws counts as "not yet". After `timeoutMs` it fails with an error naming `what`
 * and the last thing seen: `lastSeen()` when given, else the probe's last error.
 *
 * @example Wait for a condition, then for a value
 * ```ts ignore
 * import { eventually } from "@shop/platform/testing";
 *
 * await eventually("the instance leaves etcd", async () => (await registered()).length === 0);
 * const order = await eventually("the order is PAID", async () => {
 *   const { order } = await orders.getOrder({ id });
 *   return order?.status === OrderStatus.PAID && order;
 * }, { timeoutMs: 30_000 });
 * ```
 */
export async function eventually<T>(
  what: string,
  probe: () => T | NotYet | Promise<T | NotYet>,
  options: EventuallyOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const seen = options.lastSeen !== undefined ? await options.lastSeen() : lastError;
      const last = seen === undefined ? "" : `; last seen: ${describe(seen)}`;
      throw new Error(`gave up after ${timeoutMs} ms waiting until ${what}${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

function describe(seen: unknown): string {
  if (seen instanceof Error) return seen.message;
  return typeof seen === "string" ? seen : JSON.stringify(seen);
}
