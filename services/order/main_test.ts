/**
 * The order service as a real process, over mTLS, on a real PostgreSQL, against stand-ins for the
 * product and payment services served in this test process (with their own certificates), including
 * the crash test: the process is SIGKILLed right after each saga step in turn, restarted, and every
 * order must converge.
 */
import assert from "node:assert/strict";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createServiceTransport } from "@shop/platform/client";
import { gatewayClaims, type RunningServer, startServer } from "@shop/platform/server";
import { registerInstance } from "@shop/platform/discovery";
import { etcdForTests, eventually, postgresForTests } from "@shop/platform/testing";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { OrderService, OrderStatus } from "@shop/proto/order";
import { startServiceProcess } from "../platform/testing/service_process.ts";
import { paymentAllowedPeers, paymentRoutes } from "../payment/transport/payment_routes.ts";
import { inventoryAllowedPeers } from "../product/transport/product_routes.ts";
import { realServices } from "./testdata/real_services.ts";

const certsDir = await ensureDevCertificates();
const main = new URL("./main.ts", import.meta.url);
const customer = crypto.randomUUID();
const address = { name: "Alice", line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" };

async function startFakes() {
  // The real product and payment services' routes over memory stores (payment with a fake Stripe),
  // served over mTLS with their own certificates.
  const services = await realServices({ Kettle: { priceMinor: 1999n, stock: 10 } });
  const product = await startServer({
    service: "product",
    port: 0,
    transport: { tls: await readTlsFiles(certsDir, "product") },
    allowedPeers: inventoryAllowedPeers,
    routes: services.product.routes,
  });
  const payment = await startServer({
    service: "payment",
    port: 0,
    transport: { tls: await readTlsFiles(certsDir, "payment") },
    allowedPeers: paymentAllowedPeers,
    routes: paymentRoutes(services.payments),
  });
  return {
    services,
    product,
    payment,
    async [Symbol.asyncDispose]() {
      await Promise.all([product.shutdown(), payment.shutdown()]);
    },
  };
}

function orderEnv(
  databaseUrl: string,
  product: RunningServer,
  payment: RunningServer,
  extra: Record<string, string> = {},
) {
  return {
    SHOP_ORDER_SERVER_PORT: "0",
    SHOP_ORDER_DATABASE_URL: databaseUrl,
    SHOP_ORDER_TLS_CERTS_DIR: certsDir,
    SHOP_ORDER_PRODUCT_URL: product.url,
    SHOP_ORDER_PAYMENT_URL: payment.url,
    SHOP_ORDER_SAGA_LEASE: "1s",
    SHOP_ORDER_SAGA_RECOVERY_INTERVAL: "200ms",
    SHOP_ORDER_DISCOVERY_ENABLED: "false",
    ...extra,
  };
}

Deno.test("the order service places a PAID order over mTLS through the product and payment services", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "order_main" });
  await using fakes = await startFakes();
  await using service = await startServiceProcess(main, {
    env: orderEnv(db.url, fakes.product, fakes.payment),
  });
  const transport = createServiceTransport({
    baseUrl: service.url,
    tls: await readTlsFiles(certsDir, "gateway"),
  });
  try {
    const orders = createClient(OrderService, transport);
    const { order } = await orders.createOrder({
      requestId: "first",
      items: [{ productId: fakes.services.ids.Kettle, quantity: 3 }],
      shippingAddress: address,
      paymentMethod: "pm_card_visa",
    }, { headers: gatewayClaims({ sub: customer, role: "customer" }) });
    assert.equal(order?.status, OrderStatus.PAID);
    assert.equal(order?.total?.amountMinor, 5997n);
    assert.equal(await fakes.services.stockOf("Kettle"), 7);
    assert.equal(fakes.services.netCharged(), 5997n);
  } finally {
    transport.close();
  }
});

for (const step of ["reserved", "charged", "committed", "compensated"] as const) {
  Deno.test(`SIGKILL right after the saga ${step}: after a restart the order converges`, async () => {
    await using db = await (await postgresForTests()).createDatabase({ label: `order_crash_${step}` });
    await using fakes = await startFakes();
    const declined = step === "compensated";
    const crashing = await startServiceProcess(main, {
      env: orderEnv(db.url, fakes.product, fakes.payment, {
        SHOP_ENV: "dev",
        SHOP_ORDER_FAULTS_CRASH_AFTER: step,
      }),
    });
    const gateway = await readTlsFiles(certsDir, "gateway");
    const first = createServiceTransport({ baseUrl: crashing.url, tls: gateway });
    const request = {
      requestId: `crash-${step}`,
      items: [{ productId: fakes.services.ids.Kettle, quantity: 2 }],
      shippingAddress: address,
      paymentMethod: declined ? "pm_card_chargeDeclined" : "pm_card_visa",
    };
    const headers = gatewayClaims({ sub: customer, role: "customer" });
    const interrupted = await createClient(OrderService, first).createOrder(request, { headers }).then(
      () => "answered",
      () => "interrupted",
    );
    first.close();
    assert.equal(interrupted, "interrupted");
    assert.equal((await crashing.child.status).signal, "SIGKILL");

    await using restarted = await startServiceProcess(main, {
      env: orderEnv(db.url, fakes.product, fakes.payment),
    });
    const second = createServiceTransport({ baseUrl: restarted.url, tls: gateway });
    try {
      const orders = createClient(OrderService, second);
      // The retried request finds the same order; the recovery loop finishes its saga.
      const first = (await orders.createOrder(request, { headers })).order;
      const order = await eventually("the resumed saga decides", async () => {
        const found = (await orders.getOrder({ id: first?.id ?? "" }, { headers })).order;
        return found?.status === OrderStatus.PENDING ? undefined : found;
      });
      // Compensation may still be finishing after the status is final: wait for the stock it returns.
      if (declined) {
        await eventually("the stock comes back", async () => await fakes.services.stockOf("Kettle") === 10);
      }
      const { orders: all } = await orders.listOrders({}, { headers });
      assert.equal(all.length, 1, "one order, however often it was asked for");
      if (declined) {
        assert.equal(order?.status, OrderStatus.FAILED);
        assert.equal(await fakes.services.stockOf("Kettle"), 10, "the stock came back");
        assert.equal(fakes.services.netCharged(), 0n, "nothing charged");
      } else {
        assert.equal(order?.status, OrderStatus.PAID);
        assert.equal(await fakes.services.stockOf("Kettle"), 8);
        assert.equal(fakes.services.stripe.intents.size, 1, "one charge");
        assert.equal(fakes.services.netCharged(), 3998n);
      }
    } finally {
      second.close();
      await crashing.kill();
    }
  });
}

Deno.test("an instance registered as payment that proves another identity is never charged through", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "order_identity" });
  await using ns = await (await etcdForTests()).createNamespace({ label: "order_identity" });
  const prefix = `${ns.prefix}services`;
  await using fakes = await startFakes();
  // Whoever can write payment's keys in the registry (only etcd's root or payment's etcd user can) and
  // holds any of the shop's certificates (here: product's): the callers' identity check still holds.
  const impostor = await realServices({});
  const fake = await startServer({
    service: "impostor",
    port: 0,
    transport: { tls: await readTlsFiles(certsDir, "product") },
    allowedPeers: paymentAllowedPeers,
    routes: paymentRoutes(impostor.payments),
    interceptors: [impostor.paymentSwitch.interceptor()],
  });
  const registrations = [
    await registerInstance(fakes.product, { etcd: await ns.access("product"), service: "product", prefix }),
    await registerInstance(fake, { etcd: ns.root, service: "payment", prefix }),
  ];
  await using service = await startServiceProcess(main, {
    env: orderEnv(db.url, fakes.product, fakes.payment, {
      SHOP_ORDER_PRODUCT_URL: "",
      SHOP_ORDER_PAYMENT_URL: "",
      SHOP_ORDER_DISCOVERY_ENABLED: "true",
      SHOP_ORDER_DISCOVERY_ETCD: ns.url,
      SHOP_ORDER_DISCOVERY_PREFIX: prefix,
    }),
  });
  const transport = createServiceTransport({
    baseUrl: service.url,
    tls: await readTlsFiles(certsDir, "gateway"),
  });
  try {
    const orders = createClient(OrderService, transport);
    const placed = await orders.createOrder({
      requestId: "impostor",
      items: [{ productId: fakes.services.ids.Kettle, quantity: 1 }],
      shippingAddress: address,
      paymentMethod: "pm_card_visa",
    }, { headers: gatewayClaims({ sub: customer, role: "customer" }) }).then(
      (r) => r.order,
      ConnectError.from,
    );
    assert.equal(impostor.paymentSwitch.callsOf("Charge"), 0, "no Charge reached the impostor");
    assert.ok(
      placed instanceof ConnectError || placed?.status !== OrderStatus.PAID,
      `the order is not PAID: ${placed instanceof ConnectError ? placed.message : placed?.status}`,
    );

    // Once the real payment service registers, orders are charged through it, never the impostor.
    registrations.push(
      await registerInstance(fakes.payment, { etcd: await ns.access("payment"), service: "payment", prefix }),
    );
    const paid = await eventually("an order is PAID through the real payment service", async () => {
      const { order } = await orders.createOrder({
        requestId: crypto.randomUUID(),
        items: [{ productId: fakes.services.ids.Kettle, quantity: 1 }],
        shippingAddress: address,
        paymentMethod: "pm_card_visa",
      }, { headers: gatewayClaims({ sub: customer, role: "customer" }) });
      return order?.status === OrderStatus.PAID && order;
    }, { timeoutMs: 30_000 });
    assert.equal(paid.status, OrderStatus.PAID);
    assert.equal(impostor.paymentSwitch.callsOf("Charge"), 0, "still no Charge reached the impostor");
  } finally {
    transport.close();
    for (const registration of registrations) await registration.deregister();
    await fake.shutdown();
  }
});
