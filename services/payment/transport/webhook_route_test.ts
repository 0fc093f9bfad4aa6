import assert from "node:assert/strict";
import { stripeSignature } from "../stripe_simulator/simulator.ts";
import { createPaymentsFixture, testWebhookSecret } from "../testdata/fixtures.ts";
import { stripeWebhookPath, stripeWebhookRoute } from "./webhook_route.ts";

const order = { peer: "gateway", user: undefined };

function intentEvent(type: string, intent: Record<string, unknown>) {
  return JSON.stringify({
    id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
    object: "event",
    api_version: "2026-10-28.endive",
    created: Math.floor(Date.now() / 1000),
    data: { object: { object: "payment_intent", ...intent } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  });
}

async function deliver(
  route: ReturnType<typeof stripeWebhookRoute>,
  payload: string,
  secret = testWebhookSecret,
) {
  const signature = await stripeSignature(payload, secret, Math.floor(Date.now() / 1000));
  const request = new Request(`https://payment.local${stripeWebhookPath}`, {
    method: "POST",
    headers: { "stripe-signature": signature, "content-type": "application/json" },
    body: payload,
  });
  return await route.handle(request, order);
}

/** A PENDING payment, as left behind when the service lost Stripe's answer. */
async function pendingPayment(fixture: ReturnType<typeof createPaymentsFixture>) {
  const orderId = crypto.randomUUID();
  fixture.gateway.failNext(
    "unavailable_after_action",
    "hang",
    "hang",
    "hang",
    "hang",
    "hang",
    "hang",
    "hang",
  );
  await fixture.payments.charge({
    orderId,
    userId: crypto.randomUUID(),
    amount: { currencyCode: "USD", amountMinor: 1999n },
    paymentMethod: "pm_card_visa",
  }, { deadline: Date.now() + 300 }).catch(() => {});
  fixture.gateway.clearFaults();
  const payment = await fixture.store.findPaymentByOrder(orderId);
  assert.equal(payment?.chargeStatus, "pending");
  return payment;
}

Deno.test("a signed payment_intent.succeeded settles a PENDING payment, once", async () => {
  const fixture = createPaymentsFixture();
  const route = stripeWebhookRoute(fixture.payments, fixture.verifier);
  const payment = await pendingPayment(fixture);
  const payload = intentEvent("payment_intent.succeeded", {
    id: "pi_from_webhook",
    status: "succeeded",
    metadata: { payment_id: payment?.id },
  });
  assert.equal((await deliver(route, payload)).status, 200);
  const settled = await fixture.store.findPayment(payment?.id ?? "");
  assert.equal(settled?.chargeStatus, "succeeded");
  assert.equal(settled?.stripePaymentIntentId, "pi_from_webhook");
  // Stripe delivers at least once: the same event again changes nothing.
  assert.equal((await deliver(route, payload)).status, 200);
  assert.deepEqual(await fixture.store.findPayment(payment?.id ?? ""), settled);
});

Deno.test("the webhook of a charge settled already (every charge that did not wait) changes nothing", async () => {
  const fixture = createPaymentsFixture();
  const route = stripeWebhookRoute(fixture.payments, fixture.verifier);
  const paid = await fixture.payments.charge({
    orderId: crypto.randomUUID(),
    userId: crypto.randomUUID(),
    amount: { currencyCode: "USD", amountMinor: 1999n },
    paymentMethod: "pm_card_visa",
  });
  assert.equal(paid.chargeStatus, "succeeded");
  for (const type of ["payment_intent.succeeded", "payment_intent.payment_failed"]) {
    const payload = intentEvent(type, {
      id: paid.stripePaymentIntentId,
      status: type === "payment_intent.succeeded" ? "succeeded" : "requires_payment_method",
      metadata: { payment_id: paid.id },
    });
    assert.equal((await deliver(route, payload)).status, 200);
  }
  assert.deepEqual(await fixture.store.findPayment(paid.id), paid);
});

Deno.test("a webhook with a forged signature is refused with 400 and changes nothing", async () => {
  const fixture = createPaymentsFixture();
  const route = stripeWebhookRoute(fixture.payments, fixture.verifier);
  const payment = await pendingPayment(fixture);
  const payload = intentEvent("payment_intent.succeeded", {
    id: "pi_forged",
    metadata: { payment_id: payment?.id },
  });
  const forged = await deliver(route, payload, "whsec_not_the_secret");
  assert.equal(forged.status, 400);
  assert.equal((await forged.json()).code, 3, "INVALID_ARGUMENT, as the gateway writes every error code");
  const unsigned = await route.handle(
    new Request(`https://payment.local${stripeWebhookPath}`, { method: "POST", body: payload }),
    order,
  );
  assert.equal(unsigned.status, 400);
  assert.deepEqual(await fixture.store.findPayment(payment?.id ?? ""), payment);
  // A signed event whose body was altered after signing does not verify either.
  const signature = await stripeSignature(payload, testWebhookSecret, Math.floor(Date.now() / 1000));
  const tampered = await route.handle(
    new Request(`https://payment.local${stripeWebhookPath}`, {
      method: "POST",
      headers: { "stripe-signature": signature },
      body: payload.replace("pi_forged", "pi_tampered"),
    }),
    order,
  );
  assert.equal(tampered.status, 400);
  assert.equal((await fixture.store.findPayment(payment?.id ?? ""))?.chargeStatus, "pending");
});

Deno.test("a signed payment_intent.payment_failed records the decline on a PENDING payment", async () => {
  const fixture = createPaymentsFixture();
  const route = stripeWebhookRoute(fixture.payments, fixture.verifier);
  const payment = await pendingPayment(fixture);
  const payload = intentEvent("payment_intent.payment_failed", {
    id: "pi_declined",
    status: "requires_payment_method",
    metadata: { payment_id: payment?.id },
    last_payment_error: {
      type: "card_error",
      code: "card_declined",
      decline_code: "lost_card",
      message: "Your card was declined.",
    },
  });
  assert.equal((await deliver(route, payload)).status, 200);
  const failed = await fixture.store.findPayment(payment?.id ?? "");
  assert.deepEqual([failed?.chargeStatus, failed?.declineCode], ["failed", "lost_card"]);
});

Deno.test("an event of a type the ledger does not use is acknowledged and changes nothing", async () => {
  const fixture = createPaymentsFixture();
  const route = stripeWebhookRoute(fixture.payments, fixture.verifier);
  const response = await deliver(route, intentEvent("customer.created", { id: "cus_1", object: "customer" }));
  assert.equal(response.status, 200);
});

Deno.test("a signed charge.refunded settles a refund whose answer was lost, once", async () => {
  const fixture = createPaymentsFixture();
  const route = stripeWebhookRoute(fixture.payments, fixture.verifier);
  const payment = await fixture.payments.charge({
    orderId: crypto.randomUUID(),
    userId: crypto.randomUUID(),
    amount: { currencyCode: "USD", amountMinor: 1999n },
    paymentMethod: "pm_card_visa",
  });
  fixture.gateway.failNext(
    "unavailable_after_action",
    "hang",
    "hang",
    "hang",
    "hang",
    "hang",
    "hang",
    "hang",
  );
  await fixture.payments.refundPayment(
    {
      paymentId: payment.id,
      amount: { currencyCode: "USD", amountMinor: 500n },
      reason: "",
      requestId: "r-1",
    },
    { deadline: Date.now() + 300 },
  ).catch(() => {});
  fixture.gateway.clearFaults();
  assert.deepEqual((await fixture.store.findPayment(payment.id))?.refunds.map((r) => r.status), ["pending"]);
  const payload = JSON.stringify({
    id: "evt_charge_refunded_1",
    object: "event",
    api_version: "2026-10-28.endive",
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: "ch_1",
        object: "charge",
        amount: 1999,
        amount_refunded: 500,
        payment_intent: payment.stripePaymentIntentId,
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "charge.refunded",
  });
  assert.equal((await deliver(route, payload)).status, 200);
  const settled = await fixture.store.findPayment(payment.id);
  assert.deepEqual(settled?.refunds.map((r) => [r.status, r.amountMinor]), [["succeeded", 500n]]);
  assert.equal((await deliver(route, payload)).status, 200);
  assert.deepEqual(await fixture.store.findPayment(payment.id), settled);
  assert.equal(fixture.gateway.refunds.length, 1);
});
