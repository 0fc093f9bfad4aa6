/**
 * Structured JSON-lines logging (LogTape) with the request id of the call being handled, optionally
 * shipped to a log store (Elasticsearch bulk API; VictoriaLogs locally).
 *
 * @example
 * ```ts
 * import { serviceLogger, setupLogging } from "./mod.ts";
 * await setupLogging({ service: "order", instance: "order-1", level: "info" });
 * serviceLogger("saga").info("Order {orderId} paid", { orderId: "o-1" });
 * ```
 * @module
 */
export * from "./bulk_shipper.ts";
export * from "./json_lines.ts";
export * from "./log_config.ts";
export * from "./logging.ts";
export * from "./rpc_log.ts";
