/**
 * A small service built only from the kit, run as its own process by the kit's tests. It serves the
 * catalog's GetProduct (public) and the InventoryService (for the order service only), with three ways
 * to misbehave on purpose: product id `slow-<ms>` answers after that many milliseconds, `boom` throws an
 * unexpected error, anything else answers at once. Every answer carries `x-served-by: <instance id>`.
 *
 * With `discovery.etcd` set it registers itself in etcd as service `sample` and calls its peers by
 * name: product id `relay-<id>` asks some instance of `sample` (through the discovery transport) for
 * `<id>` and answers with that, naming the instance that answered in `x-relayed-to`.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { InventoryService, ProductSchema, ProductService, ReservationStatus } from "@shop/proto/product";
import { duration, integer, loadConfigOrExit, string, tcpPort } from "../config/mod.ts";
import {
  createDiscoveryTransport,
  createResolver,
  etcdAccessOf,
  registerInstance,
} from "../discovery/mod.ts";
import { setupLogging } from "../log/mod.ts";
import { startServer, stopOnSignals } from "../server/mod.ts";
import { readTlsFiles } from "../tls/mod.ts";

const config = loadConfigOrExit({
  server: { port: tcpPort({ default: 0 }), maxInFlight: integer({ default: 32, min: 1 }) },
  certsDir: string({ minLength: 1 }),
  logLevel: string({ default: "info" }),
  preStopDelay: duration({ default: 0 }),
  discovery: {
    etcd: string({ default: "" }),
    prefix: string({ default: "/shop/services" }),
    ttlSeconds: integer({ default: 10, min: 2, max: 300 }),
  },
}, { envPrefix: "SHOP_SAMPLE", args: Deno.args });

const instance = `sample-${Deno.pid}`;
await setupLogging({ service: "sample", instance, level: "debug" });
const tls = await readTlsFiles(config.certsDir, "product");
// A test program: it registers as "sample", which no shop identity may, so it acts as etcd's root.
const etcd = config.discovery.etcd === ""
  ? undefined
  : await etcdAccessOf({ endpoints: [config.discovery.etcd], certsDir: config.certsDir, identity: "root" });
const discovery = etcd === undefined ? undefined : (() => {
  const resolver = createResolver({ etcd, prefix: config.discovery.prefix });
  const peers = createDiscoveryTransport({
    resolver,
    service: "sample",
    // It serves with the product certificate.
    identity: "product",
    tls,
    defaultTimeoutMs: 3_000,
  });
  return { resolver, catalog: createClient(ProductService, peers), peers };
})();

const server = await startServer({
  service: "sample",
  port: config.server.port,
  transport: { tls },
  allowedPeers: { [InventoryService.typeName]: ["order"] },
  shutdownGraceMs: 10_000,
  preStopDelayMs: config.preStopDelay,
  maxInFlight: config.server.maxInFlight,
  routes(router) {
    router.service(ProductService, {
      async getProduct(request, context) {
        context.responseHeader.set("x-served-by", instance);
        const relay = /^relay-(.+)$/.exec(request.id);
        if (relay?.[1] !== undefined && discovery !== undefined) {
          let relayedTo = "";
          const answer = await discovery.catalog.getProduct({ id: relay[1] }, {
            onHeader: (headers) => relayedTo = headers.get("x-served-by") ?? "",
          });
          context.responseHeader.set("x-relayed-to", relayedTo);
          return answer;
        }
        const slow = /^slow-(\d+)$/.exec(request.id);
        if (slow) await new Promise((resolve) => setTimeout(resolve, Number(slow[1])));
        if (request.id === "boom") throw new Error("database password is hunter2 and the disk is on fire");
        return {
          product: create(ProductSchema, {
            id: request.id,
            sku: "KETTLE-1",
            name: "Kettle",
            price: { currencyCode: "USD", amountMinor: 1999n },
            stock: 3,
          }),
        };
      },
    });
    router.service(InventoryService, {
      reserveStock(request) {
        return {
          reservation: {
            orderId: request.orderId,
            status: ReservationStatus.RESERVED,
            items: request.items.map((item) => ({ productId: item.productId, quantity: item.quantity })),
          },
        };
      },
    });
  },
});
if (discovery !== undefined && etcd !== undefined) {
  await registerInstance(server, {
    etcd,
    service: "sample",
    instanceId: instance,
    prefix: config.discovery.prefix,
    ttlSeconds: config.discovery.ttlSeconds,
  });
  // Closed after the in-flight calls have drained: a relay still running needs them.
  server.onShutdown("close", async () => {
    discovery.peers.close();
    await discovery.resolver.close();
  });
}
stopOnSignals(server);
