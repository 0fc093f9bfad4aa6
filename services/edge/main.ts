/**
 * The edge bridge's composition root: read config, pick the endpoint source, keep the EDS files written
 * until SIGTERM or SIGINT.
 *
 * @module
 */
import { etcdAccessOf } from "@shop/platform/discovery";
import { stopOnSignals } from "@shop/platform/server";
import { startProcess } from "@shop/platform/service";
import { upstreamServices } from "../../envoy/gateway_config.ts";
import { startBridge } from "./bridge.ts";
import { edgeConfigSchema } from "./config.ts";
import { type EndpointSource, parseStaticEndpoints, StaticEndpointSource } from "./endpoint_source.ts";
import { EtcdEndpointSource } from "./etcd_source.ts";

const { config, log } = await startProcess({ service: "edge", schema: edgeConfigSchema });

let source: EndpointSource;
if (config.source === "etcd") {
  const etcd = await etcdAccessOf({
    endpoints: [config.etcd.url],
    certsDir: config.etcd.certsDir,
    identity: "edge",
  });
  source = new EtcdEndpointSource({ etcd, prefix: config.etcd.prefix });
} else {
  try {
    source = new StaticEndpointSource(parseStaticEndpoints(config.static));
  } catch (error) {
    log.error("config: static: {error}", { error });
    Deno.exit(2);
  }
}
const bridge = await startBridge({ source, dir: config.endpoints.dir, services: upstreamServices });
log.info("Serving endpoints of {services} into {dir}", {
  services: upstreamServices,
  dir: config.endpoints.dir,
});
stopOnSignals({ shutdown: () => bridge.stop() });
