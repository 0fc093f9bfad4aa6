/**
 * Distributed tracing (OpenTelemetry JS over OTLP/HTTP): the process' tracer provider, server and client
 * spans for Connect calls, spans of the shop's own work, W3C trace context, links for resumed work.
 *
 * @example
 * ```ts
 * import { inSpan, setupTracing } from "./mod.ts";
 * setupTracing({ service: "order", instance: "order-1", endpoint: "", sampleRatio: 1 });
 * await inSpan("shop.saga.reserve", {}, () => Promise.resolve());
 * ```
 * @module
 */
export * from "./interceptors.ts";
export * from "./mongo_commands.ts";
export * from "./postgres_statements.ts";
export * from "./traced_fetch.ts";
export * from "./tracing.ts";
