import { boolean, duration, type Field, string, stringList } from "../config/fields.ts";
import type { RunningServer } from "../server/start_server.ts";
import { etcdAccessOf } from "./etcd_access.ts";
import type { EtcdOptions } from "./etcd_client.ts";
import { type EtcdTarget, registerInstance, type Registration } from "./registration.ts";

/** The discovery keys of a service's config schema. */
export type DiscoveryConfigSchema = {
  enabled: Field<boolean>;
  etcd: Field<string[]>;
  prefix: Field<string>;
  ttl: Field<number>;
  passwordFile: Field<string>;
  advertiseHost: Field<string>;
  instanceId: Field<string>;
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
    /**
     * The service's etcd password, for an `https://` etcd with authentication on; empty: the file
     * `etcd/<service>.password` beside its certificate, if there is one.
     */
    passwordFile: string({ default: "" }),
    /**
     * The address this instance registers (in Kubernetes, the pod's IP from the downward API); empty:
     * the address it listens on, or the host name when it listens on every address.
     */
    advertiseHost: string({ default: "" }),
    /**
     * The id this instance registers under; empty: `<service>-<host>-<pid>-<random>`, new at every start.
     * A stable one (`deno task dev` gives `product-1`, ...) keeps the instance's metrics in the same
     * series across restarts; it must not be shared by two live instances.
     */
    instanceId: string({ default: "", pattern: /^[A-Za-z0-9._-]{0,100}$/ }),
  };
}

/** The values of {@linkcode discoveryConfigSchema}. */
export interface DiscoveryConfig {
  enabled: boolean;
  etcd: readonly string[];
  prefix: string;
  ttl: number;
  passwordFile: string;
  advertiseHost: string;
  instanceId: string;
}

/**
 * How the service reaches etcd as itself: over `https://`, with its own certificate (from `certsDir`)
 * and, when a password is found, as the etcd user of its name, who may write only its own registrations.
 *
 * @example
 * ```ts ignore
 * const etcd = await serviceEtcdAccess(config.discovery, config.tls.certsDir, "order");
 * const resolver = createResolver({ etcd, prefix: config.discovery.prefix });
 * ```
 */
export function serviceEtcdAccess(
  config: DiscoveryConfig,
  certsDir: string,
  service: string,
): Promise<EtcdOptions> {
  return etcdAccessOf({
    endpoints: config.etcd,
    certsDir,
    identity: service,
    passwordFile: config.passwordFile,
  });
}

/**
 * Why a production process must not use this etcd: plain `http://` lets anyone on the network register
 * any address as any service. Undefined when it is fine (or discovery is off, or not production).
 *
 * @example
 * ```ts ignore
 * discoveryRefusal("production", config.discovery); // "config: discovery.etcd: ..."
 * ```
 */
export function discoveryRefusal(mode: string, config: DiscoveryConfig): string | undefined {
  if (mode !== "production" || !config.enabled) return undefined;
  const plain = config.etcd.filter((url) => !url.trim().startsWith("https://"));
  if (plain.length === 0) return undefined;
  return `config: discovery.etcd: ${
    plain.join(", ")
  } is not https://; in production etcd must be reached over TLS with the service's certificate and its own etcd user`;
}

/**
 * The key of an instance record's `metadata` that holds its capacity: how many of its RPCs it handles
 * at once before it refuses more (`server.maxInFlight`).
 */
export const capacityMetadataKey = "maxInFlight";

/**
 * Registers a started server in etcd when discovery is enabled (it leaves again first thing at
 * shutdown); returns undefined when it is disabled.
 *
 * @example
 * ```ts ignore
 * await joinDiscovery(server, config.discovery, await serviceEtcdAccess(config.discovery, certsDir, "user"), "user");
 * ```
 */
export async function joinDiscovery(
  server: Pick<RunningServer, "url" | "onShutdown"> & Partial<Pick<RunningServer, "maxInFlight">>,
  config: DiscoveryConfig,
  etcd: EtcdTarget,
  service: string,
): Promise<Registration | undefined> {
  if (!config.enabled) return undefined;
  return await registerInstance(server, {
    etcd,
    service,
    prefix: config.prefix,
    ttlSeconds: Math.round(config.ttl / 1000),
    ...(config.advertiseHost === "" ? {} : { advertiseHost: config.advertiseHost }),
    ...(config.instanceId === "" ? {} : { instanceId: config.instanceId }),
    // The gateway sheds a service's calls beyond the sum of its instances' capacities (services/edge).
    ...(server.maxInFlight === undefined
      ? {}
      : { metadata: { [capacityMetadataKey]: String(server.maxInFlight) } }),
  });
}
