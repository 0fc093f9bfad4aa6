/**
 * One service skeleton: `runService()` does the start-up and shutdown every service shares, so its
 * `main.ts` holds only its own wiring; `startPeriodicJob()` runs background work that stops cleanly.
 *
 * @example
 * ```ts ignore
 * import { runService } from "@shop/platform/service";
 * await runService({ service: "product", schema: productConfigSchema, setup: (kit) => ({ routes }) });
 * ```
 * @module
 */
export * from "./periodic_job.ts";
export * from "./run_service.ts";
