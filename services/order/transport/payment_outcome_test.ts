/**
 * Payments that Stripe answers `processing`: the order waits (AWAITING_PAYMENT) with its stock held, and
 * the payment service's notice, relayed from its outbox, finishes or compensates the saga. The real
 * product and payment routes and the relay run over memory stores and a fake Stripe, so the seams
 * between the three services are the real ones.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { errorReasonOf } from "@shop/platform/client";
import { gatewayClaims, inMemoryTransport } from "@shop/platform/server";
import { OrderService, OrderStatus, PaymentOutcome, PaymentOutcomeService } from "@shop/proto/order";
import { OrderNoticeRelay } from "../../payment/domain/order_notice_relay.ts";
import { orderOutcomesOverConnect } from "../../payment/transport/order_outcomes_client.ts";
import { testReservationTtlMs } from "../../product/testdata/fixtures.ts";
import { Checkout, type CheckoutDeps } from "../domain/checkout.ts";
import { MemoryOrderStore } from "../store/memory_order_store.ts";
import { realServices } from "../testdata/real_services.ts";
import { inventoryOverConnect } from "./inventory_client.ts";
import { orderAllowedPeers, orderRoutes } from "./order_routes.ts";
import { paymentsOverConnect } from "./payment_client.ts";

const alice = crypto.randomUUID();
const asAlice = { headers: gatewayClaims({ sub: alice, role: "customer" }) };
const address = { name: "Alice", line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" };

async function setup(overrides: Partial<CheckoutDeps> = {}) {
  const services = await realServices({ Kettle: { priceMinor: 1999n, stock: 5 } });
  const { ledger, stripe, payments } = services;
  const checkout = new Checkout({
    store: new MemoryOrderStore(),
    inventory: inventoryOverConnect(services.inventory),
    payments: paymentsOverConnect(services.paymentProcessor),
    instanceId: "test",
    sagaBudgetMs: 1_000,
    ...overrides,
  });
  const routes = orderRoutes(checkout);
  const orders = createClient(OrderService, inMemoryTransport(routes, { allowedPeers: orderAllowedPeers }));
  const fromPayment = inMemoryTransport(routes, { peer: "payment", allowedPeers: orderAllowedPeers });
  const relay = new OrderNoticeRelay({
    store: ledger,
    orders: orderOutcomesOverConnect(createClient(PaymentOutcomeService, fromPayment)),
    baseBackoffMs: 1,
  });

  /** Stripe finishes every processing payment and its webhooks reach the payment service. */
  async function stripeSettles() {
    for (const event of stripe.settleProcessing()) await payments.applyEvent(event);
  }
  /** The product service's clock moves past the reservations' lifetime, and its sweeper runs. */
  async function reservationsExpire() {
    services.product.advance(testReservationTtlMs + 1_000);
    await services.product.inventory.sweep();
  }
  return {
    services,
    ledger,
    stripe,
    checkout,
    orders,
    relay,
    fromPayment,
    stripeSettles,
    reservationsExpire,
  };
}

function place(services: { ids: { Kettle: string } }, paymentMethod: string) {
  return {
    requestId: crypto.randomUUID(),
    items: [{ productId: services.ids.Kettle, quantity: 2 }],
    shippingAddress: address,
    paymentMethod,
  };
}

Deno.test("a payment still processing leaves the order AWAITING_PAYMENT with its stock held; its success makes it PAID", async () => {
  const { orders, ledger, relay, stripeSettles, fromPayment, services, reservationsExpire } = await setup();
  const { order } = await orders.createOrder(place(services, "pm_card_processing_succeeds"), asAlice);
  assert.ok(order);
  assert.equal(order.status, OrderStatus.AWAITING_PAYMENT);
  assert.deepEqual(order.statusHistory.map((change) => change.status), [
    OrderStatus.PENDING,
    OrderStatus.AWAITING_PAYMENT,
  ]);
  assert.equal(await services.stockOf("Kettle"), 3);
  // Held for the order: a reservation's lifetime passing changes nothing.
  await reservationsExpire();
  assert.equal(await services.stockOf("Kettle"), 3);
  // Nothing tells the order anything until Stripe decides.
  assert.equal(await relay.relayDue(), 0);

  await stripeSettles();
  assert.equal(await relay.relayDue(), 1);
  const paid = (await orders.getOrder({ id: order.id }, asAlice)).order;
  assert.equal(paid?.status, OrderStatus.PAID);
  assert.equal(paid?.statusHistory.at(-1)?.reason, "payment captured");
  assert.equal(await services.stockOf("Kettle"), 3);
  assert.equal((await ledger.findPaymentByOrder(order.id))?.chargeStatus, "succeeded");
  // Delivered once; a repeat of the same outcome (a relay that died before marking it) changes nothing.
  assert.equal(await relay.relayDue(), 0);
  const payment = await ledger.findPaymentByOrder(order.id);
  await createClient(PaymentOutcomeService, fromPayment).recordPaymentOutcome({
    orderId: order.id,
    paymentId: payment?.id ?? "",
    outcome: PaymentOutcome.SUCCEEDED,
  });
  const again = (await orders.getOrder({ id: order.id }, asAlice)).order;
  assert.deepEqual(again?.statusHistory, paid?.statusHistory);
});

Deno.test("a processing payment that fails makes the order FAILED, returns its stock and keeps no money", async () => {
  const { orders, ledger, relay, stripeSettles, services } = await setup();
  const { order } = await orders.createOrder(place(services, "pm_card_processing_fails"), asAlice);
  assert.equal(order?.status, OrderStatus.AWAITING_PAYMENT);
  assert.equal(await services.stockOf("Kettle"), 3);

  await stripeSettles();
  assert.equal(await relay.relayDue(), 1);
  const failed = (await orders.getOrder({ id: order?.id ?? "" }, asAlice)).order;
  assert.equal(failed?.status, OrderStatus.FAILED);
  assert.match(failed?.failureReason ?? "", /^payment failed: The payment failed while processing\.$/);
  assert.deepEqual(failed?.statusHistory.map((change) => change.status), [
    OrderStatus.PENDING,
    OrderStatus.AWAITING_PAYMENT,
    OrderStatus.FAILED,
  ]);
  assert.equal(await services.stockOf("Kettle"), 5);
  assert.equal((await ledger.findPaymentByOrder(order?.id ?? ""))?.chargeStatus, "failed");
});

Deno.test("an order awaiting payment cannot be cancelled: FAILED_PRECONDITION PAYMENT_PROCESSING", async () => {
  const { orders, services } = await setup();
  const { order } = await orders.createOrder(place(services, "pm_card_processing_succeeds"), asAlice);
  const refused = await orders.cancelOrder({ id: order?.id ?? "" }, asAlice).then(
    () => assert.fail("cancelling an order awaiting payment must fail"),
    (error) => ConnectError.from(error),
  );
  assert.equal(refused.code, Code.FailedPrecondition);
  assert.equal(errorReasonOf(refused), "PAYMENT_PROCESSING");
  const after = (await orders.getOrder({ id: order?.id ?? "" }, asAlice)).order;
  assert.equal(after?.status, OrderStatus.AWAITING_PAYMENT);
  assert.equal(await services.stockOf("Kettle"), 3);
});

Deno.test("RecordPaymentOutcome answers the payment service only", async () => {
  const { checkout, orders, services } = await setup();
  const { order } = await orders.createOrder(place(services, "pm_card_processing_succeeds"), asAlice);
  const request = {
    orderId: order?.id ?? "",
    paymentId: crypto.randomUUID(),
    outcome: PaymentOutcome.SUCCEEDED,
  };
  for (const peer of ["gateway", "order", "product", "user"]) {
    const transport = inMemoryTransport(orderRoutes(checkout), { peer, allowedPeers: orderAllowedPeers });
    const refused = await createClient(PaymentOutcomeService, transport).recordPaymentOutcome(request).then(
      () => assert.fail(`${peer} must not be able to settle an order's payment`),
      (error) => ConnectError.from(error),
    );
    assert.equal(refused.code, Code.PermissionDenied, peer);
  }
  assert.equal(
    (await orders.getOrder({ id: order?.id ?? "" }, asAlice)).order?.status,
    OrderStatus.AWAITING_PAYMENT,
  );
});

Deno.test("an outcome that arrives before the saga reached waiting is applied once the saga gets there", async () => {
  let crash = true;
  const { orders, checkout, relay, stripeSettles, services, reservationsExpire } = await setup({
    // The process "dies" right after the charge came back processing: the order is left mid-saga.
    faultAfter: (point) => {
      if (crash && point === "charged") throw new Error("crashed after the charge");
    },
  });
  const request = place(services, "pm_card_processing_succeeds");
  await orders.createOrder(request, asAlice).catch(() => {});
  crash = false;
  const [stuck] = (await checkout.listOrders({ id: alice, role: "customer" }, "", 10, undefined)).orders;
  assert.equal(stuck?.status, "awaiting_payment");
  assert.equal(await services.stockOf("Kettle"), 3, "reserved, not yet committed");

  await stripeSettles();
  assert.equal(await relay.relayDue(), 1);
  const paid = (await orders.getOrder({ id: stuck?.id ?? "" }, asAlice)).order;
  assert.equal(paid?.status, OrderStatus.PAID);
  // Committed on the way: a reservation's lifetime passing changes nothing.
  await reservationsExpire();
  assert.equal(await services.stockOf("Kettle"), 3);
});

Deno.test("money captured for an order that failed while its payment processed is refunded", async () => {
  let crash = true;
  const { orders, checkout, relay, stripeSettles, ledger, services, reservationsExpire } = await setup({
    faultAfter: (point) => {
      if (crash && point === "charged") throw new Error("crashed after the charge");
    },
  });
  await orders.createOrder(place(services, "pm_card_processing_succeeds"), asAlice).catch(() => {});
  crash = false;
  const [order] = (await checkout.listOrders({ id: alice, role: "customer" }, "", 10, undefined)).orders;
  assert.ok(order);
  // The reservation expired before the saga came back to commit it (the sweeper gave the stock back):
  // the order fails.
  await reservationsExpire();
  assert.equal(await services.stockOf("Kettle"), 5);
  await checkout.recoverStalled();
  assert.equal((await orders.getOrder({ id: order.id }, asAlice)).order?.status, OrderStatus.FAILED);
  assert.equal((await ledger.findPaymentByOrder(order.id))?.chargeStatus, "pending");
  assert.equal(await services.stockOf("Kettle"), 5);

  // Stripe captures the money after all: the notice makes the order give it back.
  await stripeSettles();
  assert.equal(await relay.relayDue(), 1);
  const payment = await ledger.findPaymentByOrder(order.id);
  assert.equal(payment?.chargeStatus, "succeeded");
  assert.deepEqual(payment?.refunds.map((refund) => [refund.status, refund.amountMinor]), [[
    "succeeded",
    3998n,
  ]]);
  assert.equal((await orders.getOrder({ id: order.id }, asAlice)).order?.status, OrderStatus.FAILED);
});
