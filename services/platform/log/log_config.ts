import { duration, type Field, integer, oneOf, string } from "../config/fields.ts";
import type { ShipOptions } from "./bulk_shipper.ts";

/** The log keys of a service's config schema. */
export type LogConfigSchema = {
  level: Field<"debug" | "info" | "warning" | "error">;
  ship: {
    url: Field<string>;
    maxQueue: Field<number>;
    batchSize: Field<number>;
    flushInterval: Field<number>;
    timeout: Field<number>;
  };
};

/** The values of {@linkcode logConfigSchema}. */
export interface LogConfig {
  level: "debug" | "info" | "warning" | "error";
  ship: { url: string; maxQueue: number; batchSize: number; flushInterval: number; timeout: number };
}

/**
 * The configuration keys of logging, the same in every service: `log.level`, and `log.ship.*`, where to
 * ship lines besides stdout. The store's URL may also come from `SHOP_LOG_SHIP_URL`, shared by every
 * process of a stack (`http://127.0.0.1:9428/insert/elasticsearch/_bulk` for the local VictoriaLogs, or
 * any Elasticsearch-compatible `_bulk` endpoint); empty (the default) ships nothing.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config/load_config.ts";
 * const config = loadConfig({ log: logConfigSchema() }, { envPrefix: "SHOP_DEMO", env: {} });
 * config.log.ship.url; // ""
 * ```
 */
export function logConfigSchema(): LogConfigSchema {
  return {
    level: oneOf(["debug", "info", "warning", "error"] as const, { default: "info" }),
    ship: {
      url: string({
        default: "",
        env: ["SHOP_LOG_SHIP_URL"],
        pattern: /^(https?:\/\/\S+)?$/,
        describe: "empty or an http(s):// URL of a _bulk endpoint",
      }),
      /** Lines held in memory while the store is slow or down; more are dropped (and counted). */
      maxQueue: integer({ default: 10_000, min: 100, max: 1_000_000 }),
      batchSize: integer({ default: 500, min: 1, max: 10_000 }),
      flushInterval: duration({ default: 1_000, min: 50, max: 60_000 }),
      /** The deadline of each POST to the store. */
      timeout: duration({ default: 2_000, min: 100, max: 60_000 }),
    },
  };
}

/**
 * The shipping options of {@linkcode setupLogging} from {@linkcode LogConfig}: undefined when no store
 * is configured.
 *
 * @example
 * ```ts
 * shipOptionsOf({ level: "info", ship: { url: "", maxQueue: 10, batchSize: 1, flushInterval: 1, timeout: 1 } }); // undefined
 * ```
 */
export function shipOptionsOf(config: LogConfig): ShipOptions | undefined {
  return config.ship.url === "" ? undefined : { ...config.ship };
}
