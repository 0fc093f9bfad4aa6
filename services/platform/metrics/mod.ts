/**
 * Prometheus metrics for services: process metrics, RED metrics per RPC, store timings, and the log
 * shipper's counters.
 *
 * @example
 * ```ts
 * import { createServiceMetrics } from "./mod.ts";
 * const { registry, rpcInterceptor } = createServiceMetrics("user");
 * ```
 * @module
 */
export * from "./service_metrics.ts";
export * from "./store_metrics.ts";
