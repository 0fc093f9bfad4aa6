/**
 * The edge bridge's composition root: read config, pick the endpoint source, keep the EDS files written
 * until SIGTERM or SIGINT. {@linkcode runEdge} is the bridge without the process around it (logging,
 * signals), for the dev stack's plumbing process (`stack/plumbing.ts`), which runs it beside other
 * programs.
 *
 * @module
 */
import type { ConfigOf } from "@shop/platform/config";
import { etcdAccessOf } from "@shop/platform/discovery";
import { serviceLogger } from "@shop/platform/log";
import { stopOnSignals } from "@shop/platform/server";
import { startProcess } from "@shop/platform/service";
import { upstreamServices } from "../../envoy/gateway_config.ts";
import { type Bridge, startBridge } from "./bridge.ts";
import { edgeConfigSchema } from "./config.ts";
import { type EndpointSource, parseStaticEndpoints, StaticEndpointSource } from "./endpoint_source.ts";
import { EtcdEndpointSource } from "./etcd_source.ts";

/** The bridge's configuration, as loaded from {@linkcode edgeConfigSchema}. */
export type EdgeConfig = ConfigOf<typeof edgeConfigSchema>;

/**
 * Follows the configured endpoint source and keeps Envoy's EDS files written until stopped. Throws on
 * a bad static list (before anything starts).
 *
 * @example
 * ```ts ignore
 * const bridge = await runEdge(loadConfigOrExit(edgeConfigSchema, { envPrefix: "SHOP_EDGE" }));
 * await bridge.stop();
 * ```
 */
export async function runEdge(config: EdgeConfig): Promise<Bridge> {
  let source: EndpointSource;
  if (config.source === "etcd") {
    const etcd = await etcdAccessOf({
      endpoints: [config.etcd.url],
      certsDir: config.etcd.certsDir,
      identity: "edge",
    });
    source = new EtcdEndpointSource({ etcd, prefix: config.etcd.prefix });
  } else {
    source = new StaticEndpointSource(parseStaticEndpoints(config.static));
  }
  const bridge = await startBridge({ source, dir: config.endpoints.dir, services: upstreamServices });
  serviceLogger("main").info("Serving endpoints of {services} into {dir}", {
    services: upstreamServices,
    dir: config.endpoints.dir,
  });
  return bridge;
}

if (import.meta.main) {
  const { config, log } = await startProcess({ service: "edge", schema: edgeConfigSchema });
  if (config.source === "static") {
    try {
      parseStaticEndpoints(config.static);
    } catch (error) {
      log.error("config: static: {error}", { error });
      Deno.exit(2);
    }
  }
  const bridge = await runEdge(config);
  stopOnSignals({ shutdown: () => bridge.stop() });
}
