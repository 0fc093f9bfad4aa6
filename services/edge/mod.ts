/**
 * The edge bridge: keeps Envoy's endpoint (EDS) files in step with where the service instances are.
 *
 * @example
 * ```ts ignore
 * import { StaticEndpointSource, startBridge } from "@shop/edge";
 * const source = new StaticEndpointSource([{ service: "user", address: "127.0.0.1", port: 50051 }]);
 * const bridge = await startBridge({ source, dir: ".local/envoy/endpoints", services: ["user"] });
 * ```
 * @module
 */
export * from "./endpoint_source.ts";
export * from "./eds_files.ts";
export * from "./bridge.ts";
export * from "./etcd_source.ts";
