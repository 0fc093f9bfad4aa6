/**
 * Prometheus metrics for services: process metrics and RED metrics per RPC.
 *
 * @example
 * ```ts
 * import { createServiceMetrics } from "./mod.ts";
 * const { registry, rpcInterceptor } = createServiceMetrics("user");
 * ```
 * @module
 */
export * from "./service_metrics.ts";
