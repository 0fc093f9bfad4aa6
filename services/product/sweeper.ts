/**
 * The background job that expires reservations and finishes work dead processes left half done.
 *
 * @module
 */
import { serviceLogger } from "@shop/platform/log";
import type { Inventory } from "./domain/inventory.ts";

/** A running sweeper. */
export interface Sweeper {
  /** Stops it, waiting for a sweep in progress to end. */
  stop(): Promise<void>;
}

/**
 * Sweeps every `intervalMs`, never two sweeps at once in this process. Every instance runs one: sweeps
 * are safe to run concurrently (each step is decided by a unique insert), so no leader is needed.
 *
 * @example
 * ```ts
 * declare const inventory: Inventory;
 * const sweeper = startSweeper(inventory, 30_000);
 * await sweeper.stop();
 * ```
 */
export function startSweeper(inventory: Inventory, intervalMs: number): Sweeper {
  const log = serviceLogger("sweeper");
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = (async () => {
      try {
        const report = await inventory.sweep();
        if (report.expired > 0 || report.repaired > 0) {
          log.info("Expired {expired} reservations, repaired {repaired} half-done changes", { ...report });
        }
      } catch (error) {
        log.error("Sweep failed; trying again in {intervalMs} ms: {error}", { intervalMs, error });
      } finally {
        running = undefined;
      }
    })();
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
