/**
 * The product service as real processes: FerretDB from the harness, mTLS, two instances on one database.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createServiceTransport } from "@shop/platform/client";
import { gatewayClaims } from "@shop/platform/server";
import { delay, eventually, mongoForTests } from "@shop/platform/testing";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { InventoryService, ProductService, ReservationStatus } from "@shop/proto/product";
import { startServiceProcess } from "../platform/testing/service_process.ts";
import { demoCatalog } from "./seed.ts";

const certsDir = await ensureDevCertificates();
const main = new URL("./main.ts", import.meta.url);
const admin = { headers: gatewayClaims({ sub: "admin-1", role: "admin" }) };
/** How soon a change made through one instance shows in every instance's reads (README: within 1 s). */
const freshWithin = 1_000;

async function startProductService(mongoUrl: string, database: string, extra: Record<string, string> = {}) {
  return await startServiceProcess(main, {
    env: {
      SHOP_PRODUCT_SERVER_PORT: "0",
      SHOP_PRODUCT_DISCOVERY_ENABLED: "false",
      SHOP_PRODUCT_TLS_CERTS_DIR: certsDir,
      SHOP_PRODUCT_MONGO_URL: mongoUrl,
      SHOP_PRODUCT_MONGO_DATABASE: database,
      ...extra,
    },
  });
}

async function outcome(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

Deno.test("two instances on one database never oversell, and repeated calls for one order change stock once", async () => {
  await using db = await (await mongoForTests()).createDatabase({ label: "product_main" });
  await using first = await startProductService(db.url, db.name);
  await using second = await startProductService(db.url, db.name);
  const orderTls = await readTlsFiles(certsDir, "order");
  const gatewayTls = await readTlsFiles(certsDir, "gateway");
  const transports = [first, second].map((p) => createServiceTransport({ baseUrl: p.url, tls: orderTls }));
  const gateway = createServiceTransport({ baseUrl: first.url, tls: gatewayTls });
  const gatewayToSecond = createServiceTransport({ baseUrl: second.url, tls: gatewayTls });
  try {
    const products = createClient(ProductService, gateway);
    const { product } = await products.createProduct({
      product: {
        sku: "RACE-1",
        name: "Last kettles",
        category: "kitchen",
        price: { currencyCode: "USD", amountMinor: 2_500n },
        stock: 5,
      },
    }, admin);
    const id = product?.id ?? "";
    // Each instance holds the catalog in memory: a change through one shows in its own next answer, and
    // in every read of the other that begins a second later (the README's bound; reads in between may
    // still show what was there before).
    const throughSecond = createClient(ProductService, gatewayToSecond);
    assert.equal((await products.getProduct({ id })).product?.name, "Last kettles");
    await delay(freshWithin);
    assert.equal((await throughSecond.getProduct({ id })).product?.name, "Last kettles");
    await products.updateProduct({
      product: { id, name: "Very last kettles" },
      updateMask: { paths: ["name"] },
    }, admin);
    assert.equal((await products.getProduct({ id })).product?.name, "Very last kettles");
    await delay(freshWithin);
    assert.equal((await throughSecond.getProduct({ id })).product?.name, "Very last kettles");
    assert.deepEqual(
      (await throughSecond.listProducts({ query: "very last" })).products.map((p) => p.id),
      [id],
    );
    const inventories = transports.map((t) => createClient(InventoryService, t));
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        outcome(
          inventories[i % 2]!.reserveStock({
            orderId: crypto.randomUUID(),
            items: [{ productId: id, quantity: 1 }],
          }),
        )),
    );
    assert.equal(results.filter((r) => r === "ok").length, 5, `outcomes: ${results.join(", ")}`);
    assert.equal(results.filter((r) => r === Code.FailedPrecondition).length, 7);
    await delay(freshWithin);
    assert.equal((await products.getProduct({ id })).product?.stock, 0);
    assert.equal((await throughSecond.getProduct({ id })).product?.stock, 0);

    // One order, its calls repeated on both instances at once: the stock changes once per step.
    await products.updateProduct({ product: { id, stock: 3 }, updateMask: { paths: ["stock"] } }, admin);
    assert.equal((await products.getProduct({ id })).product?.stock, 3, "its own change, at once");
    const orderId = crypto.randomUUID();
    const items = [{ productId: id, quantity: 2 }];
    const reserved = await Promise.all(
      inventories.flatMap((
        inv,
      ) => [inv.reserveStock({ orderId, items }), inv.reserveStock({ orderId, items })]),
    );
    assert.deepEqual(
      new Set(reserved.map((r) => r.reservation?.status)),
      new Set([ReservationStatus.RESERVED]),
    );
    await delay(freshWithin);
    assert.equal((await products.getProduct({ id })).product?.stock, 1);
    await Promise.all(inventories.map((inv) => inv.commitReservation({ orderId })));
    await delay(freshWithin);
    assert.equal((await products.getProduct({ id })).product?.stock, 1);
    const released = await Promise.all(
      inventories.flatMap((
        inv,
      ) => [inv.releaseReservation({ orderId }), inv.releaseReservation({ orderId })]),
    );
    assert.deepEqual(
      new Set(released.map((r) => r.reservation?.status)),
      new Set([ReservationStatus.RELEASED]),
    );
    await delay(freshWithin);
    assert.equal((await products.getProduct({ id })).product?.stock, 3);
    assert.equal((await throughSecond.getProduct({ id })).product?.stock, 3);
  } finally {
    for (const transport of [...transports, gateway, gatewayToSecond]) transport.close();
  }
});

Deno.test("in dev mode the demo catalog is seeded once, expired reservations return their stock, operator JSON is refused", async () => {
  await using db = await (await mongoForTests()).createDatabase({ label: "product_dev" });
  const dev = {
    SHOP_ENV: "dev",
    SHOP_PRODUCT_INVENTORY_RESERVATION_TTL: "400ms",
    SHOP_PRODUCT_INVENTORY_SWEEP_INTERVAL: "100ms",
  };
  // Seeding twice (a restart) creates nothing new.
  await (await startProductService(db.url, db.name, dev)).kill();
  await using service = await startProductService(db.url, db.name, dev);
  const order = createServiceTransport({ baseUrl: service.url, tls: await readTlsFiles(certsDir, "order") });
  const gatewayTls = await readTlsFiles(certsDir, "gateway");
  const gateway = createServiceTransport({ baseUrl: service.url, tls: gatewayTls });
  const http = Deno.createHttpClient({
    caCerts: [gatewayTls.ca],
    cert: gatewayTls.cert,
    key: gatewayTls.key,
  });
  try {
    const products = createClient(ProductService, gateway);
    const listed = await products.listProducts({ pageSize: 100 });
    assert.deepEqual(listed.products.map((p) => p.sku), demoCatalog.map((d) => d.sku));
    for (const product of listed.products) {
      const [image, ...more] = product.images;
      assert.match(
        image?.uri ?? "",
        /^\/images\/[a-z0-9-]+-[0-9a-f]{12}\.svg$/,
        `${product.sku} has a picture`,
      );
      assert.ok(image?.altText.startsWith(product.name), product.sku);
      assert.equal(more.length, 0);
    }

    const trowel = listed.products.find((p) => p.sku === "GD-TROWEL");
    assert.ok(trowel);
    const orderId = crypto.randomUUID();
    await createClient(InventoryService, order).reserveStock({
      orderId,
      items: [{ productId: trowel.id, quantity: trowel.stock }],
    });
    assert.equal((await products.getProduct({ id: trowel.id })).product?.stock, 0);
    await eventually(
      "the expired units come back",
      async () => (await products.getProduct({ id: trowel.id })).product?.stock === trowel.stock,
      { timeoutMs: 10_000 },
    );
    assert.equal(
      (await products.getProduct({ id: trowel.id })).product?.stock,
      trowel.stock,
      "the expired units came back",
    );
    const late = await outcome(createClient(InventoryService, order).commitReservation({ orderId }));
    assert.equal(late, Code.FailedPrecondition);

    // Operators where strings belong never reach the database: the request is refused as it is parsed.
    const post = (method: string, body: unknown) =>
      fetch(`${service.url}/shop.product.v1.ProductService/${method}`, {
        method: "POST",
        client: http,
        headers: { "content-type": "application/json", ...admin.headers },
        body: JSON.stringify(body),
      });
    for (
      const [method, body] of [
        ["GetProduct", { id: { $ne: null } }],
        ["ListProducts", { category: { $gt: "" } }],
        ["ListProducts", { query: { $regex: ".*" } }],
        ["CreateProduct", {
          product: {
            sku: { $ne: "x" },
            name: "n",
            category: "c",
            price: { currencyCode: "USD", amountMinor: "1" },
          },
        }],
        ["DeleteProduct", { id: { $exists: true } }],
      ] as const
    ) {
      const response = await post(method, body);
      assert.equal(response.status, 400, `${method} ${JSON.stringify(body)}`);
      assert.equal((await response.json()).code, "invalid_argument");
    }
    assert.equal(
      (await products.listProducts({ pageSize: 100 })).products.length,
      demoCatalog.length,
      "nothing written or deleted",
    );
  } finally {
    order.close();
    gateway.close();
    http.close();
  }
});
