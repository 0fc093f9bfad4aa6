/**
 * The order service with the REAL product and payment services: three processes over mTLS, found
 * through etcd, on FerretDB and PostgreSQL, with the Stripe simulator in front of stripe-mock. Checks
 * every outcome against the product's stock, the payment ledger and Stripe's own state, including the
 * process SIGKILLed right after each saga step in turn (`faults.crashAfter`), the awaiting-payment step
 * included: every order converges, charged once or not at all.
 */
import assert from "node:assert/strict";
import { type Client, createClient } from "@connectrpc/connect";
import { type ClosableTransport, createServiceTransport } from "@shop/platform/client";
import { createResolver } from "@shop/platform/discovery";
import { gatewayClaims } from "@shop/platform/server";
import {
  etcdForTests,
  eventually,
  mongoForTests,
  type OtlpCollector,
  postgresForTests,
  startOtlpCollector,
  stripeMockForTests,
} from "@shop/platform/testing";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { type Order, OrderService, OrderStatus } from "@shop/proto/order";
import { PaymentService, PaymentStatus } from "@shop/proto/payment";
import { ProductService } from "@shop/proto/product";
import { devStripe } from "../payment/config.ts";
import { startStripeSimulator } from "../payment/stripe_simulator/simulator.ts";
import { type ServiceProcess, startServiceProcess } from "../platform/testing/service_process.ts";

const certsDir = await ensureDevCertificates();
const admin = { sub: crypto.randomUUID(), role: "admin" };
const address = { name: "Ada", line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" };

interface Stack {
  orders: Client<typeof OrderService>;
  products: Client<typeof ProductService>;
  payments: Client<typeof PaymentService>;
  orderEnv: Record<string, string>;
  paymentsOf(
    orderId: string,
    userId: string,
  ): Promise<Array<{ status: PaymentStatus; amount: bigint; refunded: bigint }>>;
  /** The PaymentIntents Stripe holds for an order, or only those in `status`. */
  intentsFor(orderId: string, status?: string): number;
}

const processes: ServiceProcess[] = [];
const transports: ClosableTransport[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
// However the run ends, no service process outlives it.
globalThis.addEventListener("unload", () => {
  for (const process of processes) process.signal("SIGKILL");
});

/** Where the order and payment processes send their spans. */
let collector: OtlpCollector | undefined;

let started: Promise<Stack> | undefined;
function stack(): Promise<Stack> {
  return started ??= startStack();
}

async function startStack(): Promise<Stack> {
  const ns = await (await etcdForTests()).createNamespace({ label: "order_it" });
  cleanups.push(() => ns.clear());
  const prefix = `${ns.prefix}services`;
  const discovery = (svc: string) => ({
    [`SHOP_${svc}_DISCOVERY_ETCD`]: ns.url,
    [`SHOP_${svc}_DISCOVERY_PREFIX`]: prefix,
    [`SHOP_${svc}_DISCOVERY_TTL`]: "3s",
    [`SHOP_${svc}_SERVER_PRE_STOP_DELAY`]: "0ms",
  });
  const postgres = await postgresForTests();
  const orderDb = await postgres.createDatabase({ label: "order_it" });
  const paymentDb = await postgres.createDatabase({ label: "payment_it" });
  const productDb = await (await mongoForTests()).createDatabase({ label: "product_it" });
  cleanups.push(() => orderDb.drop(), () => paymentDb.drop(), () => productDb.drop());
  const simulator = await startStripeSimulator({
    upstream: (await stripeMockForTests()).url,
    processingDelayMs: 1_500,
  });
  cleanups.push(() => simulator.close());
  const spans = await startOtlpCollector();
  collector = spans;
  cleanups.push(async () => await spans[Symbol.asyncDispose]());
  const tracing = { SHOP_TRACING_ENDPOINT: spans.url };

  const start = async (name: string, env: Record<string, string>) => {
    const process = await startServiceProcess(new URL(`../${name}/main.ts`, import.meta.url), { env });
    processes.push(process);
    return process;
  };
  const product = await start("product", {
    SHOP_PRODUCT_SERVER_PORT: "0",
    SHOP_PRODUCT_TLS_CERTS_DIR: certsDir,
    SHOP_PRODUCT_MONGO_URL: (await mongoForTests()).url,
    SHOP_PRODUCT_MONGO_DATABASE: productDb.name,
    ...discovery("PRODUCT"),
  });
  const payment = await start("payment", {
    SHOP_ENV: "dev",
    SHOP_PAYMENT_SERVER_PORT: "0",
    SHOP_PAYMENT_DATABASE_URL: paymentDb.url,
    SHOP_PAYMENT_TLS_CERTS_DIR: certsDir,
    SHOP_PAYMENT_STRIPE_BASE_URL: simulator.url,
    ...tracing,
    ...discovery("PAYMENT"),
  });
  // Stripe's webhooks go straight to the payment service (no gateway in this stack).
  const client = await readTlsFiles(certsDir, "client");
  const webhookClient = Deno.createHttpClient({ caCerts: [client.ca], cert: client.cert, key: client.key });
  cleanups.push(() => Promise.resolve(webhookClient.close()));
  simulator.simulator.setWebhook({
    url: `${payment.url}/v1/webhooks/stripe`,
    secret: devStripe.webhookSecret,
    client: webhookClient,
  });
  const orderEnv = {
    SHOP_ORDER_SERVER_PORT: "0",
    SHOP_ORDER_DATABASE_URL: orderDb.url,
    SHOP_ORDER_TLS_CERTS_DIR: certsDir,
    // Longer than any step takes on a loaded machine, so the surviving instance never takes over a saga
    // the crashing one is still driving (which would then never reach the step it dies after).
    SHOP_ORDER_SAGA_LEASE: "5s",
    SHOP_ORDER_SAGA_RECOVERY_INTERVAL: "200ms",
    ...tracing,
    ...discovery("ORDER"),
  };
  const order = await start("order", orderEnv);

  // The order service must have found both dependencies through etcd before the first checkout.
  const resolver = createResolver({ etcd: ns.root, prefix });
  await resolver.ready();
  await eventually(
    "product and payment registered in etcd",
    () => resolver.endpoints("product").length > 0 && resolver.endpoints("payment").length > 0,
  );
  await resolver.close();

  const gateway = await readTlsFiles(certsDir, "gateway");
  const to = (process: ServiceProcess) => {
    const transport = createServiceTransport({
      baseUrl: process.url,
      tls: gateway,
      defaultTimeoutMs: 30_000,
    });
    transports.push(transport);
    return transport;
  };
  const payments = createClient(PaymentService, to(payment));
  return {
    orders: createClient(OrderService, to(order)),
    products: createClient(ProductService, to(product)),
    payments,
    orderEnv,
    async paymentsOf(orderId, userId) {
      const { payments: list } = await payments.listPayments({ orderId }, {
        headers: gatewayClaims({ sub: userId, role: "customer" }),
      });
      return list.map((p) => ({
        status: p.status,
        amount: p.amount?.amountMinor ?? 0n,
        refunded: p.refundedAmount?.amountMinor ?? 0n,
      }));
    },
    intentsFor(orderId, status) {
      return simulator.simulator.paymentIntents().filter((intent) =>
        JSON.stringify(intent).includes(orderId) && (status === undefined || intent.status === status)
      ).length;
    },
  };
}

async function newProduct(s: Stack, stock: number, priceMinor: bigint) {
  const sku = `IT-${crypto.randomUUID().slice(0, 8)}`;
  const { product } = await s.products.createProduct({
    product: {
      sku,
      name: `Item ${sku}`,
      category: "test",
      price: { currencyCode: "USD", amountMinor: priceMinor },
      stock,
    },
  }, { headers: gatewayClaims(admin) });
  return product?.id ?? "";
}

async function stockOf(s: Stack, id: string): Promise<number> {
  return (await s.products.getProduct({ id })).product?.stock ?? -1;
}

function place(
  s: Stack,
  userId: string,
  items: Array<{ productId: string; quantity: number }>,
  paymentMethod = "pm_card_visa",
  requestId = crypto.randomUUID(),
): Promise<Order | undefined> {
  return s.orders.createOrder(
    { requestId, items, shippingAddress: address, paymentMethod },
    { headers: gatewayClaims({ sub: userId, role: "customer" }) },
  ).then((r) => r.order);
}

Deno.test("with the real services an order is PAID at catalog prices, its stock committed and one payment captured", async () => {
  const s = await stack();
  const user = crypto.randomUUID();
  const kettle = await newProduct(s, 5, 1999n);
  const order = await place(s, user, [{ productId: kettle, quantity: 2 }]);
  assert.equal(order?.status, OrderStatus.PAID, order?.failureReason ?? "");
  assert.equal(order?.total?.amountMinor, 3998n);
  assert.equal(order?.items[0]?.unitPrice?.amountMinor, 1999n);
  assert.equal(await stockOf(s, kettle), 3);
  assert.deepEqual(await s.paymentsOf(order?.id ?? "", user), [{
    status: PaymentStatus.SUCCEEDED,
    amount: 3998n,
    refunded: 0n,
  }]);
});

Deno.test("with the real services an order for more than the stock FAILS and nothing is charged", async () => {
  const s = await stack();
  const user = crypto.randomUUID();
  const rare = await newProduct(s, 1, 5000n);
  const order = await place(s, user, [{ productId: rare, quantity: 2 }]);
  assert.equal(order?.status, OrderStatus.FAILED);
  assert.match(order?.failureReason ?? "", /stock/i);
  assert.equal(await stockOf(s, rare), 1);
  assert.deepEqual(await s.paymentsOf(order?.id ?? "", user), []);
  assert.equal(s.intentsFor(order?.id ?? ""), 0);
});

Deno.test("with the real services a declined card FAILS the order and its stock comes back", async () => {
  const s = await stack();
  const user = crypto.randomUUID();
  const mug = await newProduct(s, 4, 450n);
  const order = await place(s, user, [{ productId: mug, quantity: 3 }], "pm_card_chargeDeclined");
  assert.equal(order?.status, OrderStatus.FAILED);
  assert.match(order?.failureReason ?? "", /^payment declined: /);
  assert.doesNotMatch(order?.failureReason ?? "", /payment declined: payment declined/);
  await eventually("the stock comes back", async () => await stockOf(s, mug) === 4);
  assert.equal(await stockOf(s, mug), 4);
  const ledger = await s.paymentsOf(order?.id ?? "", user);
  assert.ok(ledger.every((p) => p.status === PaymentStatus.FAILED), "no successful payment");
});

Deno.test("with the real services cancelling a PAID order refunds it and returns its stock", async () => {
  const s = await stack();
  const user = crypto.randomUUID();
  const lamp = await newProduct(s, 3, 2500n);
  const order = await place(s, user, [{ productId: lamp, quantity: 1 }]);
  assert.equal(order?.status, OrderStatus.PAID);
  const { order: cancelled } = await s.orders.cancelOrder(
    { id: order?.id ?? "", reason: "changed my mind" },
    { headers: gatewayClaims({ sub: user, role: "customer" }) },
  );
  assert.equal(cancelled?.status, OrderStatus.CANCELLED);
  assert.equal(await stockOf(s, lamp), 3);
  assert.deepEqual(await s.paymentsOf(order?.id ?? "", user), [{
    status: PaymentStatus.REFUNDED,
    amount: 2500n,
    refunded: 2500n,
  }]);
});

Deno.test("with the real services 20 concurrent orders with one request id make one order and one charge", async () => {
  const s = await stack();
  const user = crypto.randomUUID();
  const pen = await newProduct(s, 10, 300n);
  const requestId = crypto.randomUUID();
  const orders = await Promise.all(
    Array.from(
      { length: 20 },
      () => place(s, user, [{ productId: pen, quantity: 1 }], "pm_card_visa", requestId),
    ),
  );
  assert.equal(new Set(orders.map((o) => o?.id)).size, 1);
  assert.ok(orders.every((o) => o?.status === OrderStatus.PAID));
  assert.equal(await stockOf(s, pen), 9);
  assert.equal((await s.paymentsOf(orders[0]?.id ?? "", user)).length, 1);
  assert.equal(s.intentsFor(orders[0]?.id ?? ""), 1, "one PaymentIntent at Stripe");
});

Deno.test("with the real services an order process killed right after the charge converges to PAID with one charge", async () => {
  const s = await stack();
  const user = crypto.randomUUID();
  const book = await newProduct(s, 2, 1200n);
  const firstTrace = newTraceparent();
  const crashing = await startServiceProcess(new URL("./main.ts", import.meta.url), {
    env: { ...s.orderEnv, SHOP_ENV: "dev", SHOP_ORDER_FAULTS_CRASH_AFTER: "charged" },
  });
  processes.push(crashing);
  const transport = createServiceTransport({
    baseUrl: crashing.url,
    tls: await readTlsFiles(certsDir, "gateway"),
  });
  const requestId = crypto.randomUUID();
  try {
    const headers = {
      ...gatewayClaims({ sub: user, role: "customer" }),
      traceparent: firstTrace.traceparent,
    };
    const answered = await createClient(OrderService, transport).createOrder(
      {
        requestId,
        items: [{ productId: book, quantity: 1 }],
        shippingAddress: address,
        paymentMethod: "pm_card_visa",
      },
      { headers },
    ).then(() => true, () => false);
    assert.equal(answered, false, "the process died mid-checkout");
    assert.equal((await crashing.child.status).signal, "SIGKILL");
  } finally {
    transport.close();
  }
  // The surviving instance's recovery loop resumes the saga once the dead one's lease expires.
  const placed = await place(s, user, [{ productId: book, quantity: 1 }], "pm_card_visa", requestId);
  const order = await eventually("the resumed saga decides", async () => {
    const found = (await s.orders.getOrder({ id: placed?.id ?? "" }, {
      headers: gatewayClaims({ sub: user, role: "customer" }),
    })).order;
    return found?.status === OrderStatus.PENDING ? undefined : found;
  });
  assert.equal(order?.status, OrderStatus.PAID);
  assert.equal(await stockOf(s, book), 1);
  assert.equal((await s.paymentsOf(order?.id ?? "", user)).length, 1);
  assert.equal(s.intentsFor(order?.id ?? ""), 1, "the resumed saga did not charge again");
  // The resumed saga's spans link to the trace of the checkout that started it.
  const resumed = await resumedSpanOf(order?.id ?? "");
  assert.deepEqual(resumed.links.map((link) => link.traceId), [firstTrace.traceId]);
  assert.notEqual(resumed.traceId, firstTrace.traceId, "the recovery loop works in a trace of its own");
  // The round that finished the order took its commit step inside a resumed trace (an earlier round may
  // have given up; every round links to the first trace). Spans arrive in batches: bounded wait.
  const id = order?.id ?? "";
  let committedInResumed = false;
  for (let i = 0; i < 100 && !committedInResumed; i++) {
    const rounds = collector?.spans.filter((span) =>
      span.name === "saga.resume" && span.attributes["shop.order.id"] === id
    ) ?? [];
    assert.ok(rounds.every((round) =>
      round.links[0]?.traceId === firstTrace.traceId
    ));
    committedInResumed = rounds.some((round) =>
      collector?.spans.some((span) =>
        span.traceId === round.traceId && span.name === "saga.commit" &&
        span.attributes["shop.order.id"] === id
      )
    );
    if (!committedInResumed) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(committedInResumed, "the commit step is in a resumed trace");
});

/** A fresh sampled W3C traceparent. */
function newTraceparent(): { traceparent: string; traceId: string } {
  const hex = (bytes: number) =>
    Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join(
      "",
    );
  const traceId = hex(16);
  return { traceparent: `00-${traceId}-${hex(8)}-01`, traceId };
}

/** The order service's `saga.resume` span of an order, once exported (bounded wait). */
async function resumedSpanOf(orderId: string) {
  for (let i = 0; i < 100; i++) {
    const span = collector?.spans.find((s) =>
      s.name === "saga.resume" && s.attributes["shop.order.id"] === orderId
    );
    if (span) return span;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no saga.resume span for order ${orderId}`);
}

Deno.test("with the real services a payment finished by Stripe's webhook links its work to the checkout's trace", async () => {
  const s = await stack();
  const user = crypto.randomUUID();
  const lamp = await newProduct(s, 2, 900n);
  const checkout = newTraceparent();
  const headers = { ...gatewayClaims({ sub: user, role: "customer" }), traceparent: checkout.traceparent };
  const placed = await s.orders.createOrder({
    requestId: crypto.randomUUID(),
    items: [{ productId: lamp, quantity: 1 }],
    shippingAddress: address,
    paymentMethod: "pm_card_processing_succeeds",
  }, { headers });
  assert.equal(placed.order?.status, OrderStatus.AWAITING_PAYMENT);
  const orderId = placed.order?.id ?? "";
  const resumed = await resumedSpanOf(orderId);
  assert.deepEqual(resumed.links.map((link) => link.traceId), [checkout.traceId]);
  // The checkout itself is one trace: the order's server span continues the caller's context.
  const createOrder = collector?.spans.find((span) =>
    span.traceId === checkout.traceId && span.name === "shop.order.v1.OrderService/CreateOrder"
  );
  assert.ok(createOrder, "CreateOrder is in the checkout's trace");
  assert.equal(createOrder.service, "order");
  assert.ok(
    collector?.spans.some((span) =>
      span.traceId === checkout.traceId && span.service === "payment" &&
      span.name === "POST /v1/payment_intents"
    ),
    "payment's call to Stripe is in the checkout's trace",
  );
});
/** A crash right after one saga step, with the card that takes the saga through it, and where it must end. */
const crashes = [
  { step: "reserved", card: "pm_card_visa", ends: OrderStatus.PAID },
  { step: "charged", card: "pm_card_visa", ends: OrderStatus.PAID },
  // The charge is still processing when the process dies: the order must still wait, then be PAID.
  { step: "charged", card: "pm_card_processing_succeeds", ends: OrderStatus.PAID },
  { step: "committed", card: "pm_card_visa", ends: OrderStatus.PAID },
  { step: "awaiting_payment", card: "pm_card_processing_succeeds", ends: OrderStatus.PAID },
  { step: "awaiting_payment", card: "pm_card_processing_fails", ends: OrderStatus.FAILED },
  { step: "compensated", card: "pm_card_chargeDeclined", ends: OrderStatus.FAILED },
] as const;

for (const { step, card, ends } of crashes) {
  Deno.test(
    `with the real services an order process SIGKILLed right after the saga step ${step} (${card}) converges to ${
      OrderStatus[ends]
    }`,
    async () => {
      const s = await stack();
      const user = crypto.randomUUID();
      const product = await newProduct(s, 3, 1100n);
      const crashing = await startServiceProcess(new URL("./main.ts", import.meta.url), {
        env: { ...s.orderEnv, SHOP_ENV: "dev", SHOP_ORDER_FAULTS_CRASH_AFTER: step },
      });
      processes.push(crashing);
      const transport = createServiceTransport({
        baseUrl: crashing.url,
        tls: await readTlsFiles(certsDir, "gateway"),
      });
      const request = {
        requestId: crypto.randomUUID(),
        items: [{ productId: product, quantity: 2 }],
        shippingAddress: address,
        paymentMethod: card,
      };
      const headers = gatewayClaims({ sub: user, role: "customer" });
      try {
        const answered = await createClient(OrderService, transport).createOrder(request, { headers })
          .then(() => true, () => false);
        assert.equal(answered, false, `the process died right after ${step}`);
        assert.equal((await crashing.child.status).signal, "SIGKILL");
      } finally {
        transport.close();
      }
      // The retried request finds the same order; the surviving instance (its recovery loop, or the
      // payment's outcome relayed to it) finishes the saga.
      const retried = (await s.orders.createOrder(request, { headers })).order;
      const order = await eventually("the resumed saga decides", async () => {
        const found = (await s.orders.getOrder({ id: retried?.id ?? "" }, { headers })).order;
        return found?.status === OrderStatus.PENDING || found?.status === OrderStatus.AWAITING_PAYMENT
          ? undefined
          : found;
      }, { timeoutMs: 30_000 });
      assert.equal(order?.status, ends, order?.failureReason ?? "");
      const { orders: all } = await s.orders.listOrders({}, { headers });
      assert.equal(all.length, 1, "one order, however often it was asked for");
      const ledger = await s.paymentsOf(order?.id ?? "", user);
      const captured = s.intentsFor(order?.id ?? "", "succeeded");
      if (ends === OrderStatus.PAID) {
        assert.equal(await stockOf(s, product), 1);
        assert.deepEqual(ledger, [{ status: PaymentStatus.SUCCEEDED, amount: 2200n, refunded: 0n }]);
        assert.equal(captured, 1, "one PaymentIntent captured at Stripe, never two");
        assert.equal(s.intentsFor(order?.id ?? ""), 1, "the resumed saga did not charge again");
      } else {
        // Compensation may still be finishing after the status is final: wait for the stock it returns.
        await eventually("the stock comes back", async () => await stockOf(s, product) === 3);
        assert.equal(await stockOf(s, product), 3, "the stock came back");
        assert.ok(
          ledger.every((p) => p.status === PaymentStatus.FAILED),
          ledger.map((p) => `${PaymentStatus[p.status]} ${p.amount} (refunded ${p.refunded})`).join(", "),
        );
        assert.equal(captured, 0, "nothing captured at Stripe");
      }
    },
  );
}

Deno.test("the integration stack shuts down", async () => {
  for (const transport of transports) transport.close();
  await Promise.all(processes.map((process) => process.kill()));
  for (const cleanup of cleanups.reverse()) await cleanup();
});
