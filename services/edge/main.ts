/**
 * The edge bridge's composition root: read config, pick the endpoint source, keep the EDS files written
 * until SIGTERM or SIGINT.
 *
 * @module
 */
import { describeConfig, loadConfigOrExit } from "@shop/platform/config";
import { serviceLogger, setupLogging } from "@shop/platform/log";
import { upstreamServices } from "../../envoy/gateway_config.ts";
import { startBridge } from "./bridge.ts";
import { edgeConfigSchema } from "./config.ts";
import { type EndpointSource, parseStaticEndpoints, StaticEndpointSource } from "./endpoint_source.ts";
import { EtcdEndpointSource } from "./etcd_source.ts";

const config = loadConfigOrExit(edgeConfigSchema, { envPrefix: "SHOP_EDGE", args: Deno.args });
await setupLogging({
  service: "edge",
  instance: `edge-${crypto.randomUUID().slice(0, 8)}`,
  level: config.log.level,
});
const log = serviceLogger("main");
log.info("Starting with {config}", { config: describeConfig(edgeConfigSchema, config) });

let source: EndpointSource;
if (config.source === "etcd") {
  source = new EtcdEndpointSource({ etcd: config.etcd.url, prefix: config.etcd.prefix });
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

const stop = async () => {
  await bridge.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
