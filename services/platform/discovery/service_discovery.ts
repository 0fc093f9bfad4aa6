import { boolean, duration, type Field, string, stringList } from "../config/fields.ts";
import type { RunningServer } from "../server/start_server.ts";
import { registerInstance, type Registration } from "./registration.ts";

/** The discovery keys of a service's config schema. */
export type DiscoveryConfigSchema = {
  enabled: Field<boolean>;
  etcd: Field<string[]>;
  prefix: Field<string>;
  ttl: Field<number>;
};

/**
 * The configuration keys of discovery, the same in every service (`discovery.etcd`, ...). The etcd
 * endpoints may also come from `SHOP_ETCD_ENDPOINTS`, shared by every process of a stack.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config/load_config.ts";
 * const config = loadConfig({ discovery: discoveryConfigSchema() }, { envPrefix: "SHOP_DEMO", env: {} });
 * config.discovery.etcd; // ["http://127.0.0.1:2379"]
 * ```
 */
export function discoveryConfigSchema(): DiscoveryConfigSchema {
  return {
    /** Register this instance and find others through etcd. */
    enabled: boolean({ default: true }),
    etcd: stringList({ default: ["http://127.0.0.1:2379"], env: ["SHOP_ETCD_ENDPOINTS"] }),
    prefix: string({ default: "/shop/services", pattern: /^\/[A-Za-z0-9/_.-]*$/ }),
    /** How long a dead instance stays listed at most. */
    ttl: duration({ default: 10_000, min: 2_000, max: 300_000 }),
  };
}

/** The values of {@linkcode discoveryConfigSchema}. */
export interface DiscoveryConfig {
  enabled: boolean;
  etcd: readonly string[];
  prefix: string;
  ttl: number;
}

/**
 * Registers a started server in etcd when discovery is enabled (it leaves again first thing at
 * shutdown); returns undefined when it is disabled.
 *
 * @example
 * ```ts
 * import type { RunningServer } from "../server/start_server.ts";
 * declare const server: RunningServer;
 * await joinDiscovery(server, { enabled: true, etcd: ["http://127.0.0.1:2379"], prefix: "/shop/services", ttl: 10_000 }, "user");
 * ```
 */
export async function joinDiscovery(
  server: Pick<RunningServer, "url" | "onShutdown">,
  config: DiscoveryConfig,
  service: string,
): Promise<Registration | undefined> {
  if (!config.enabled) return undefined;
  return await registerInstance(server, {
    etcd: { endpoints: [...config.etcd] },
    service,
    prefix: config.prefix,
    ttlSeconds: Math.round(config.ttl / 1000),
  });
}
