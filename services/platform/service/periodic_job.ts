/**
 * Background work that runs every so often in a service (order's saga recovery, user's key reload,
 * product's reservation sweeper), never twice at once, and stops cleanly with the service.
 *
 * @module
 */
import { serviceLogger } from "../log/logging.ts";

/** A running {@linkcode startPeriodicJob}. */
export interface PeriodicJob {
  /**
   * Starts no more runs and resolves once the run in progress, if any, has ended. Calling it again is
   * harmless and waits for the same run.
   */
  stop(): Promise<void>;
}

/**
 * Runs `run` every `intervalMs` (the first time after one interval). A run still in progress when the
 * next is due makes that one skip; a run that fails is logged and the next runs as usual.
 *
 * @example
 * ```ts ignore
 * const sweeper = startPeriodicJob("sweeper", 30_000, () => inventory.sweep().then(() => {}));
 * await sweeper.stop(); // at shutdown: waits for a sweep in progress
 * ```
 */
export function startPeriodicJob(name: string, intervalMs: number, run: () => Promise<void>): PeriodicJob {
  const log = serviceLogger(name);
  let running: Promise<void> | undefined;
  let stopped = false;
  const timer = setInterval(() => {
    if (running !== undefined || stopped) return;
    running = (async () => {
      try {
        await run();
      } catch (error) {
        log.error("{job} failed; trying again in {intervalMs} ms: {error}", { job: name, intervalMs, error });
      } finally {
        running = undefined;
      }
    })();
  }, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
