/**
 * Configuration in the spirit of Viper: one typed object per service from defaults < config file <
 * environment < flags, validated at start.
 *
 * @example
 * ```ts
 * import { loadConfigOrExit, tcpPort } from "./mod.ts";
 * const config = loadConfigOrExit({ port: tcpPort({ default: 50051 }) }, { envPrefix: "SHOP_DEMO" });
 * ```
 * @module
 */
export * from "./fields.ts";
export * from "./load_config.ts";
export * from "./service_schemas.ts";
