/**
 * The kit every shop service is built on: configuration, logging, errors, the server bootstrap, caller
 * identity, TLS, metrics, calls to other services. Each part is also exported on its own
 * (`@shop/platform/config`, `@shop/platform/server`, ...); see the kit's README.
 *
 * @example
 * ```ts
 * import { loadConfigOrExit, setupLogging, startServer, stopOnSignals, tcpPort } from "@shop/platform";
 * const config = loadConfigOrExit({ port: tcpPort({ default: 50051 }) }, { envPrefix: "SHOP_DEMO" });
 * ```
 * @module
 */
export * from "./auth/mod.ts";
export * from "./client/mod.ts";
export * from "./config/mod.ts";
export * from "./errors/mod.ts";
export * from "./log/mod.ts";
export * from "./metrics/mod.ts";
export * from "./server/mod.ts";
export * from "./tls/mod.ts";
export * from "./validation/mod.ts";
