/**
 * The background jobs of every instance: the sweeper that expires reservations and finishes work dead
 * processes left half done, and the refresh of the stock levels readers see.
 *
 * @module
 */
import { serviceLogger } from "@shop/platform/log";
import type { Inventory } from "./domain/inventory.ts";
import type { StockLog } from "./domain/stock_log.ts";

/** A running background job. */
export interface Sweeper {
  /** Stops it, waiting for a round in progress to end. */
  stop(): Promise<void>;
}

/** Runs `round` every `intervalMs`, never two rounds at once in this process. */
function every(intervalMs: number, round: () => Promise<void>, failed: (error: unknown) => void): Sweeper {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = round().catch(failed).finally(() => {
      running = undefined;
    });
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * Sweeps every `intervalMs`. Every instance runs one: sweeps are safe to run concurrently (each step is
 * decided by a unique insert), so no leader is needed.
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
  return every(intervalMs, async () => {
    const report = await inventory.sweep();
    if (report.expired > 0 || report.repaired > 0) {
      log.info("Expired {expired} reservations, repaired {repaired} half-done changes", { ...report });
    }
  }, (error) => log.error("Sweep failed; trying again in {intervalMs} ms: {error}", { intervalMs, error }));
}

/**
 * Rewrites, every `intervalMs`, stock levels that do not show this instance's latest moves (see
 * `StockLog.refreshLevels`).
 *
 * @example
 * ```ts
 * declare const stock: StockLog;
 * const refresh = startLevelRefresh(stock, 250);
 * await refresh.stop();
 * ```
 */
export function startLevelRefresh(stock: StockLog, intervalMs: number): Sweeper {
  const log = serviceLogger("levels");
  return every(
    intervalMs,
    async () => {
      const rewritten = await stock.refreshLevels();
      if (rewritten > 0) log.debug("Rewrote {rewritten} stale stock levels", { rewritten });
    },
    (error) =>
      log.warn("Stock level refresh failed; trying again in {intervalMs} ms: {error}", { intervalMs, error }),
  );
}
