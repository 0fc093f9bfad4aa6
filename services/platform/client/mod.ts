/**
 * Calling other services: mTLS transports with deadlines and request-id propagation.
 *
 * @example
 * ```ts
 * import { createServiceTransport } from "./mod.ts";
 * ```
 * @module
 */
export * from "./error_reason.ts";
export * from "./peer_identity.ts";
export * from "./service_transport.ts";
