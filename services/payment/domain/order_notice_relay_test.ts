import assert from "node:assert/strict";
import { MemoryPaymentStore } from "../store/memory_payment_store.ts";
import { FakePaymentGateway } from "../testdata/fake_gateway.ts";
import { OrderNoticeRelay } from "./order_notice_relay.ts";
import { Payments } from "./payments.ts";
import type { OrderNotice, OrderOutcomes } from "./ports.ts";

/** An order service that answers as told and remembers what it took. */
class FakeOrders implements OrderOutcomes {
  taken: OrderNotice[] = [];
  down = false;
  recordPaymentOutcome(notice: OrderNotice): Promise<void> {
    if (this.down) return Promise.reject(new Error("order service unreachable"));
    this.taken.push(notice);
    return Promise.resolve();
  }
}

function setup() {
  let now = Date.parse("2026-11-29T12:00:00Z");
  const clock = { now: () => new Date(now), advance: (ms: number) => now += ms };
  const store = new MemoryPaymentStore();
  const stripe = new FakePaymentGateway();
  const payments = new Payments({ store, gateway: stripe, now: clock.now });
  const orders = new FakeOrders();
  const relay = new OrderNoticeRelay({
    store,
    orders,
    baseBackoffMs: 1_000,
    maxBackoffMs: 8_000,
    keepDeliveredMs: 60_000,
    now: clock.now,
    random: () => 1,
  });
  /** Charges an order with a card that processes, then Stripe settles it and says so by webhook. */
  async function processedPayment(card: "pm_card_processing_succeeds" | "pm_card_processing_fails") {
    const orderId = crypto.randomUUID();
    const payment = await payments.charge({
      orderId,
      userId: crypto.randomUUID(),
      amount: { currencyCode: "USD", amountMinor: 1200n },
      paymentMethod: card,
    });
    assert.equal(payment.chargeStatus, "pending");
    const [event] = stripe.settleProcessing("payment_intent.canceled");
    assert.ok(event);
    await payments.applyEvent(event);
    return { orderId, paymentId: payment.id };
  }
  return { clock, store, stripe, payments, orders, relay, processedPayment };
}

Deno.test("relayDue() tells the order service each outcome once, oldest first", async () => {
  const { orders, relay, processedPayment } = setup();
  const first = await processedPayment("pm_card_processing_succeeds");
  const second = await processedPayment("pm_card_processing_fails");
  assert.equal(await relay.relayDue(), 2);
  assert.deepEqual(orders.taken.map((n) => [n.orderId, n.outcome, n.failureReason]), [
    [first.orderId, "succeeded", ""],
    [second.orderId, "failed", "The payment failed while processing."],
  ]);
  assert.equal(await relay.relayDue(), 0);
  assert.equal(orders.taken.length, 2);
});

Deno.test("an order service that is down gets the notice later, with growing pauses, and none is lost", async () => {
  const { clock, orders, relay, processedPayment } = setup();
  const { orderId } = await processedPayment("pm_card_processing_succeeds");
  orders.down = true;
  assert.equal(await relay.relayDue(), 0);
  // Not due again before its backoff (1 s after the first failure, 2 s after the second).
  clock.advance(900);
  assert.equal(await relay.relayDue(), 0);
  clock.advance(200);
  assert.equal(await relay.relayDue(), 0);
  clock.advance(1_500);
  assert.equal(await relay.relayDue(), 0, "the second pause is longer than the first");
  orders.down = false;
  clock.advance(600);
  assert.equal(await relay.relayDue(), 1);
  assert.deepEqual(orders.taken.map((n) => [n.orderId, n.attempts]), [[orderId, 2]]);
});

Deno.test("delivered notices are purged after their keeping time", async () => {
  const { clock, store, relay, processedPayment } = setup();
  await processedPayment("pm_card_processing_succeeds");
  await relay.relayDue();
  assert.equal(await relay.purgeDelivered(), 0);
  clock.advance(61_000);
  assert.equal(await relay.purgeDelivered(), 1);
  assert.equal(await store.purgeDeliveredOrderNotices(clock.now()), 0);
});

Deno.test("a charge whose webhook was lost is settled by asking Stripe, and its order is told", async () => {
  const { clock, stripe, store, payments, orders, relay } = setup();
  const orderId = crypto.randomUUID();
  const payment = await payments.charge({
    orderId,
    userId: crypto.randomUUID(),
    amount: { currencyCode: "USD", amountMinor: 700n },
    paymentMethod: "pm_card_processing_succeeds",
  });
  // Still processing at Stripe: nothing to settle yet.
  clock.advance(120_000);
  assert.equal(await payments.reconcilePendingCharges(new Date(clock.now().getTime() - 60_000)), 0);
  stripe.settleProcessing(); // ... and its webhook never comes.
  assert.equal(await payments.reconcilePendingCharges(new Date(clock.now().getTime() - 1)), 1);
  assert.equal((await store.findPaymentByOrder(orderId))?.chargeStatus, "succeeded");
  assert.equal(await relay.relayDue(), 1);
  assert.deepEqual(orders.taken.map((n) => [n.paymentId, n.outcome]), [[payment.id, "succeeded"]]);
});

Deno.test("refunding an order whose charge is still processing is PAYMENT_PROCESSING and changes nothing", async () => {
  const { payments, store } = setup();
  const orderId = crypto.randomUUID();
  await payments.charge({
    orderId,
    userId: crypto.randomUUID(),
    amount: { currencyCode: "USD", amountMinor: 700n },
    paymentMethod: "pm_card_processing_succeeds",
  });
  await assert.rejects(payments.refundOrder(orderId, "cancelled"), { reason: "PAYMENT_PROCESSING" });
  const payment = await store.findPaymentByOrder(orderId);
  assert.deepEqual([payment?.chargeStatus, payment?.refunds.length], ["pending", 0]);
});

Deno.test("observeDelivery wraps each delivery, with its notice (main.ts continues the webhook's trace in it)", async () => {
  const { store, orders, processedPayment } = setup();
  const observed: string[] = [];
  const relay = new OrderNoticeRelay({
    store,
    orders,
    baseBackoffMs: 1_000,
    maxBackoffMs: 8_000,
    keepDeliveredMs: 60_000,
    observeDelivery: async (notice, deliver) => {
      observed.push(`before ${notice.orderId}`);
      await deliver();
      observed.push(`after ${notice.orderId}`);
    },
  });
  const { orderId } = await processedPayment("pm_card_processing_succeeds");
  assert.equal(await relay.relayDue(), 1);
  assert.deepEqual(observed, [`before ${orderId}`, `after ${orderId}`]);
  assert.deepEqual(orders.taken.map((n) => n.orderId), [orderId]);
});
