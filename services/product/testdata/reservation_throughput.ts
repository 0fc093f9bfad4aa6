/**
 * Measures reservation throughput against plain GetProduct calls in the same run, on one product-service
 * process over FerretDB. Prints the numbers; asserts nothing (timing is not a test).
 *
 * Run: `NO_COLOR=1 deno run -A services/product/testdata/reservation_throughput.ts [calls] [concurrency]`
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { createServiceTransport } from "@shop/platform/client";
import { gatewayClaims } from "@shop/platform/server";
import { mongoForTests } from "@shop/platform/testing";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { InventoryService, ProductService } from "@shop/proto/product";
import { startServiceProcess } from "../../platform/testing/service_process.ts";

const calls = Number(Deno.args[0] ?? 300);
const concurrency = Number(Deno.args[1] ?? 8);
const productCount = 10;
const errors = new Map<string, number>();

/** Calls per second over `calls` calls made `concurrency` at a time, and how many failed (counted in). */
async function timed(run: (i: number) => Promise<unknown>): Promise<{ perSecond: number; failed: number }> {
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < calls) {
      await run(next++).catch((error) => {
        failed++;
        errors.set(
          String(error.message).slice(0, 80),
          (errors.get(String(error.message).slice(0, 80)) ?? 0) + 1,
        );
      });
    }
  }));
  return { perSecond: calls / ((performance.now() - started) / 1000), failed };
}

const certsDir = await ensureDevCertificates();
await using db = await (await mongoForTests()).createDatabase({ label: "product_bench" });
await using service = await startServiceProcess(new URL("../main.ts", import.meta.url), {
  env: {
    SHOP_PRODUCT_SERVER_PORT: "0",
    SHOP_PRODUCT_TLS_CERTS_DIR: certsDir,
    SHOP_PRODUCT_MONGO_URL: db.url,
    SHOP_PRODUCT_MONGO_DATABASE: db.name,
  },
});
const gateway = createServiceTransport({
  baseUrl: service.url,
  tls: await readTlsFiles(certsDir, "gateway"),
});
const order = createServiceTransport({ baseUrl: service.url, tls: await readTlsFiles(certsDir, "order") });
try {
  const products = createClient(ProductService, gateway);
  const inventory = createClient(InventoryService, order);
  const admin = { headers: gatewayClaims({ sub: "bench", role: "admin" }) };
  const ids: string[] = [];
  for (let i = 0; i < productCount; i++) {
    const { product } = await products.createProduct({
      product: {
        sku: `BENCH-${i}`,
        name: `Bench ${i}`,
        category: "bench",
        price: { currencyCode: "USD", amountMinor: 100n },
        stock: 1_000_000,
      },
    }, admin);
    ids.push(product?.id ?? "");
  }
  // Warm up connections and code paths on both sides.
  for (const id of ids) await products.getProduct({ id });
  const gets = await timed((i) => products.getProduct({ id: ids[i % productCount] ?? "" }));
  const reservations = await timed((i) =>
    inventory.reserveStock({
      orderId: crypto.randomUUID(),
      items: [{ productId: ids[i % productCount] ?? "", quantity: 1 }],
    })
  );
  const hot = await timed(() =>
    inventory.reserveStock({
      orderId: crypto.randomUUID(),
      items: [{ productId: ids[0] ?? "", quantity: 1 }],
    })
  );
  const report = {
    calls,
    concurrency,
    getProductPerSecond: Math.round(gets.perSecond),
    getProductFailed: gets.failed,
    reservationsPerSecond: Math.round(reservations.perSecond),
    reservationsFailed: reservations.failed,
    ratioReservationToGet: Number((reservations.perSecond / gets.perSecond).toFixed(3)),
    reservationsOneProductPerSecond: Math.round(hot.perSecond),
    reservationsOneProductFailed: hot.failed,
    errors: Object.fromEntries(errors),
  };
  // A measuring script, not a service: its output is the point.
  // deno-lint-ignore no-console
  console.log(JSON.stringify(report));
} finally {
  gateway.close();
  order.close();
}
