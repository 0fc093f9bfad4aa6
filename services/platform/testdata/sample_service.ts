/**
 * A small service built only from the kit, run as its own process by the kit's tests. It serves the
 * catalog's GetProduct (public) and the InventoryService (for the order service only), with three ways
 * to misbehave on purpose: product id `slow-<ms>` answers after that many milliseconds, `boom` throws an
 * unexpected error, anything else answers at once.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { InventoryService, ProductSchema, ProductService, ReservationStatus } from "@shop/proto/product";
import { loadConfigOrExit, string, tcpPort } from "../config/mod.ts";
import { setupLogging } from "../log/mod.ts";
import { startServer, stopOnSignals } from "../server/mod.ts";
import { readTlsFiles } from "../tls/mod.ts";

const config = loadConfigOrExit({
  server: { port: tcpPort({ default: 0 }) },
  certsDir: string({ minLength: 1 }),
  logLevel: string({ default: "info" }),
}, { envPrefix: "SHOP_SAMPLE", args: Deno.args });

await setupLogging({ service: "sample", instance: `sample-${Deno.pid}`, level: "debug" });
const server = await startServer({
  service: "sample",
  port: config.server.port,
  transport: { tls: await readTlsFiles(config.certsDir, "product") },
  allowedPeers: { [InventoryService.typeName]: ["order"] },
  shutdownGraceMs: 10_000,
  routes(router) {
    router.service(ProductService, {
      async getProduct(request) {
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
stopOnSignals(server);
