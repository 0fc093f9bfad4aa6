/**
 * Service discovery on etcd: instances register under `<prefix>/<service>/<instance-id>` with a lease,
 * a resolver keeps a watched copy of the registry, and a Connect transport calls a service by name
 * with load balancing and safe failover. See the README in this folder for the key layout, the TTL
 * and the failure behaviour.
 *
 * @example
 * ```ts ignore
 * import { createDiscoveryTransport, createResolver, registerInstance } from "@shop/platform/discovery";
 * await registerInstance(server, { etcd: config.etcd.url, service: "order" });
 * const resolver = createResolver({ etcd: config.etcd.url });
 * const products = createDiscoveryTransport({ resolver, service: "product", tls });
 * ```
 * @module
 */
export * from "./discovery_transport.ts";
export * from "./fixed_url_retries.ts";
export * from "./etcd_access.ts";
export * from "./etcd_client.ts";
export * from "./instance.ts";
export * from "./registration.ts";
export * from "./resolver.ts";
export * from "./service_discovery.ts";
