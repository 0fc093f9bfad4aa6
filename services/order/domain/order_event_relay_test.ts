import assert from "node:assert/strict";
import { MemoryOrderStore } from "../store/memory_order_store.ts";
import { realServices } from "../testdata/real_services.ts";
import { inventoryOverConnect } from "../transport/inventory_client.ts";
import { paymentsOverConnect } from "../transport/payment_client.ts";
import { Checkout } from "./checkout.ts";
import { orderEventRelay } from "./order_event_relay.ts";
import type { OrderEvent } from "./order_events.ts";

const alice = { id: crypto.randomUUID(), role: "customer" as const };
const address = {
  name: "Alice",
  line1: "1 Main St",
  line2: "",
  city: "Berlin",
  postalCode: "10115",
  country: "DE",
};

/** A notification service that takes events as told and remembers them. */
class FakeReceiver {
  heard: OrderEvent[] = [];
  down = false;
  notifyOrderEvent(event: OrderEvent): Promise<void> {
    if (this.down) return Promise.reject(new Error("notification service unreachable"));
    this.heard.push(event);
    return Promise.resolve();
  }
}

async function setup() {
  let now = Date.parse("2026-11-29T12:00:00Z");
  const clock = () => new Date(now);
  const services = await realServices({ Kettle: { priceMinor: 1999n, stock: 5 } });
  const store = new MemoryOrderStore();
  const checkout = new Checkout({
    store,
    inventory: inventoryOverConnect(services.inventory),
    payments: paymentsOverConnect(services.paymentProcessor),
    instanceId: "test",
    now: clock,
  });
  const receiver = new FakeReceiver();
  const relay = orderEventRelay({ store, receiver, baseBackoffMs: 1_000, now: clock, random: () => 1 });
  const place = (paymentMethod = "pm_card_visa") =>
    checkout.placeOrder(alice, {
      requestId: crypto.randomUUID(),
      items: [{ productId: services.ids.Kettle, quantity: 2 }],
      shippingAddress: address,
      paymentMethod,
    });
  return { checkout, receiver, relay, place, advance: (ms: number) => now += ms };
}

/** What the receiver heard, per event: order, sequence, type, status. */
function heard(receiver: FakeReceiver) {
  return receiver.heard.map((e) => [e.orderId, e.sequence, e.type, e.status]);
}

Deno.test("a PAID order announces PAID once, with its items, total and address", async () => {
  const { receiver, relay, place } = await setup();
  const order = await place();
  assert.equal(await relay.relayDue(), 1);
  assert.equal(await relay.relayDue(), 0);
  assert.deepEqual(heard(receiver), [[order.id, 1, "status_changed", "paid"]]);
  const [event] = receiver.heard;
  assert.equal(event?.order.total?.amountMinor, 3998n);
  assert.equal(event?.order.shippingAddress.city, "Berlin");
  assert.equal(event?.reason, "payment captured");
});

Deno.test("a declined order announces FAILED and no refund; a cancelled PAID one CANCELLED then its refund", async () => {
  const { checkout, receiver, relay, place } = await setup();
  const declined = await place("pm_card_chargeDeclined");
  const paid = await place();
  await checkout.cancelOrder(alice, paid.id, "");
  await checkout.updateStatus(paid.id, "shipped", "").catch(() => undefined);
  await relay.relayDue();
  assert.deepEqual(heard(receiver), [
    [declined.id, 1, "status_changed", "failed"],
    [paid.id, 1, "status_changed", "paid"],
    [paid.id, 2, "status_changed", "cancelled"],
    [paid.id, 3, "refunded", "cancelled"],
  ]);
  assert.deepEqual(receiver.heard.at(-1)?.refunded, { currencyCode: "USD", amountMinor: 3998n });
});

Deno.test("a payment outcome repeated for an order already cancelled and refunded announces no second refund", async () => {
  // The chaos suite's find: a charge whose answer was lost (its store restarted) is settled by Stripe's
  // webhook, whose outcome reaches the order after it was cancelled and refunded; the compensation it
  // drives again refunds nothing more, and must not announce (and email) the same refund twice.
  const { checkout, receiver, relay, place } = await setup();
  const paid = await place();
  await checkout.cancelOrder(alice, paid.id, "");
  await checkout.recordPaymentOutcome(paid.id, { kind: "succeeded", paymentId: crypto.randomUUID() });
  await checkout.recordPaymentOutcome(paid.id, { kind: "succeeded", paymentId: crypto.randomUUID() });
  await relay.relayDue();
  await relay.relayDue();
  assert.deepEqual(heard(receiver), [
    [paid.id, 1, "status_changed", "paid"],
    [paid.id, 2, "status_changed", "cancelled"],
    [paid.id, 3, "refunded", "cancelled"],
  ]);
});

Deno.test("events wait for a receiver that is down and then arrive in sequence, each once", async () => {
  const { checkout, receiver, relay, place, advance } = await setup();
  receiver.down = true;
  const order = await place();
  await checkout.updateStatus(order.id, "shipped", "");
  await checkout.updateStatus(order.id, "delivered", "");
  assert.equal(await relay.relayDue(), 0);
  advance(1_000);
  assert.equal(await relay.relayDue(), 0);
  receiver.down = false;
  assert.equal(await relay.relayDue(), 0, "not before the backoff has passed");
  advance(2_000);
  assert.equal(await relay.relayDue(), 3);
  assert.deepEqual(heard(receiver).map(([, sequence, , status]) => [sequence, status]), [
    [1, "paid"],
    [2, "shipped"],
    [3, "delivered"],
  ]);
});
