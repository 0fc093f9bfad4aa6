/**
 * The server bootstrap: Connect on node:http2 with mTLS, health, reflection, metrics, validation, error
 * mapping, identity and graceful shutdown.
 *
 * @example
 * ```ts
 * import { startServer, stopOnSignals } from "./mod.ts";
 * ```
 * @module
 */
export * from "./deadline.ts";
export * from "./interceptors.ts";
export * from "./start_server.ts";
export * from "./in_memory_transport.ts";
export * from "../errors/to_connect_error.ts";
