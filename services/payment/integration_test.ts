/**
 * The payment rules against the real things: PostgreSQL from the harness, the Stripe SDK adapter, and the
 * Stripe simulator in front of stripe-mock.
 */
import assert from "node:assert/strict";
import { DomainError } from "@shop/platform/errors";
import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { postgresForTests, stripeMockForTests } from "@shop/platform/testing";
import { type ChargeInput, Payments } from "./domain/payments.ts";
import { createStripeClient, StripePaymentGateway } from "./gateway/stripe_gateway.ts";
import { PostgresPaymentStore } from "./store/postgres_payment_store.ts";
import { type RunningStripeSimulator, startStripeSimulator } from "./stripe_simulator/simulator.ts";

const migrations = await readMigrations(new URL("./store/migrations/", import.meta.url));
const upstream = (await stripeMockForTests()).url;

interface Rig {
  payments: Payments;
  store: PostgresPaymentStore;
  stripe: RunningStripeSimulator;
}

async function withRig(label: string, body: (rig: Rig) => Promise<void>): Promise<void> {
  await using db = await (await postgresForTests()).createDatabase({ label });
  const sql = connectPostgres({ url: db.url, applicationName: `payment-${label}` });
  await using stripe = await startStripeSimulator({ upstream });
  try {
    await migrate(sql, migrations);
    const store = new PostgresPaymentStore(sql);
    const payments = new Payments({
      store,
      gateway: new StripePaymentGateway(
        createStripeClient({ apiKey: "sk_test_integration", baseUrl: stripe.url }),
      ),
      // Short attempts, so a held answer turns into a retry quickly.
      retry: { attemptTimeoutMs: 300, baseDelayMs: 20, maxDelayMs: 100, minAttemptMs: 100 },
      defaultDeadlineMs: 5_000,
    });
    await body({ payments, store, stripe });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function order(paymentMethod = "pm_card_visa"): ChargeInput {
  return {
    orderId: crypto.randomUUID(),
    userId: crypto.randomUUID(),
    amount: { currencyCode: "EUR", amountMinor: 4200n },
    paymentMethod,
  };
}

async function reasonOf(call: Promise<unknown>): Promise<DomainError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  assert.fail("expected a DomainError");
}

Deno.test("charges of one order, repeated one after another and at once, make one payment and one PaymentIntent", async () => {
  await withRig("payment_once", async ({ payments, store, stripe }) => {
    const input = order();
    // At once from nothing: the ledger's unique order id and Stripe's key (409 while in flight) decide.
    const together = await Promise.all(Array.from({ length: 4 }, () => payments.charge(input)));
    const first = await payments.charge(input);
    assert.ok(together.every((p) => p.id === first.id && p.chargeStatus === "succeeded"));
    assert.equal((await store.listPayments(input.orderId, 10, undefined)).payments.length, 1);
    const intents = stripe.simulator.paymentIntents();
    assert.equal(intents.length, 1);
    assert.equal(intents[0]?.id, first.stripePaymentIntentId);
    assert.deepEqual([intents[0]?.amount, intents[0]?.currency, intents[0]?.status], [
      4200,
      "eur",
      "succeeded",
    ]);
  });
});

Deno.test("a decline at Stripe is PAYMENT_DECLINED with its code and leaves a FAILED row", async () => {
  await withRig("payment_decline", async ({ payments, store }) => {
    const input = order("pm_card_visa_chargeDeclinedLostCard");
    const error = await reasonOf(payments.charge(input));
    assert.deepEqual([error.kind, error.reason, error.metadata.decline_code], [
      "failed_precondition",
      "PAYMENT_DECLINED",
      "lost_card",
    ]);
    const row = await store.findPaymentByOrder(input.orderId);
    assert.deepEqual([row?.chargeStatus, row?.declineCode], ["failed", "lost_card"]);
    assert.match(row?.stripePaymentIntentId ?? "", /^pi_/);
  });
});

Deno.test("Stripe timing out after charging, or answering 500 after charging, does not charge twice", async () => {
  await withRig("payment_lost_answer", async ({ payments, stripe }) => {
    stripe.simulator.injectFaults({
      mode: "timeout_after_action",
      count: 1,
      pathPrefix: "/v1/payment_intents",
    });
    const timedOut = await payments.charge(order());
    stripe.simulator.injectFaults({
      mode: "error_500_after_action",
      count: 1,
      pathPrefix: "/v1/payment_intents",
    });
    const failedLoudly = await payments.charge(order());
    assert.equal(timedOut.chargeStatus, "succeeded");
    assert.equal(failedLoudly.chargeStatus, "succeeded");
    assert.equal(stripe.simulator.paymentIntents().length, 2, "one PaymentIntent per order");
  });
});

Deno.test("a charge cut off by an outage stays PENDING and a later retry finds the first PaymentIntent", async () => {
  await withRig("payment_outage", async ({ payments, store, stripe }) => {
    const input = order();
    stripe.simulator.injectFaults({ mode: "timeout_after_action", count: 1 });
    stripe.simulator.injectFaults({ mode: "error_500", count: 1_000 });
    const error = await reasonOf(payments.charge(input, { deadline: Date.now() + 1_200 }));
    assert.equal(error.kind, "unavailable");
    assert.equal((await store.findPaymentByOrder(input.orderId))?.chargeStatus, "pending");
    stripe.simulator.clearFaults();
    const settled = await payments.charge(input);
    assert.equal(settled.chargeStatus, "succeeded");
    assert.deepEqual(stripe.simulator.paymentIntents().map((i) => i.id), [settled.stripePaymentIntentId]);
  });
});

Deno.test("refunds never exceed the captured amount, at Stripe or in the ledger", async () => {
  await withRig("payment_refunds", async ({ payments, stripe }) => {
    const payment = await payments.charge(order());
    const eur = (amountMinor: bigint) => ({ currencyCode: "EUR", amountMinor });
    const results = await Promise.allSettled(
      [1500n, 1500n, 1500n].map((amount) =>
        payments.refundPayment({
          paymentId: payment.id,
          amount: eur(amount),
          reason: "",
          requestId: undefined,
        })
      ),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 2);
    const refused = results.find((r) => r.status === "rejected");
    assert.equal(refused?.status === "rejected" && refused.reason.reason, "REFUND_EXCEEDS_PAYMENT");
    const rest = await payments.refundPayment({
      paymentId: payment.id,
      amount: undefined,
      reason: "",
      requestId: "r-1",
    });
    assert.equal(
      rest.refunds.filter((r) => r.status === "succeeded").reduce((s, r) => s + r.amountMinor, 0n),
      4200n,
    );
    const more = await reasonOf(
      payments.refundPayment({ paymentId: payment.id, amount: eur(1n), reason: "", requestId: undefined }),
    );
    assert.equal(more.reason, "REFUND_EXCEEDS_PAYMENT");
    assert.equal(stripe.simulator.refunds().reduce((sum, r) => sum + Number(r.amount), 0), 4200);
  });
});

Deno.test("a refund whose answer was lost is found again by its request id", async () => {
  await withRig("payment_refund_retry", async ({ payments, stripe }) => {
    const payment = await payments.charge(order());
    stripe.simulator.injectFaults({ mode: "timeout_after_action", count: 1, pathPrefix: "/v1/refunds" });
    stripe.simulator.injectFaults({ mode: "error_500", count: 1_000, pathPrefix: "/v1/refunds" });
    const input = {
      paymentId: payment.id,
      amount: { currencyCode: "EUR", amountMinor: 1000n },
      reason: "",
      requestId: "refund-7",
    };
    assert.equal(
      (await reasonOf(payments.refundPayment(input, { deadline: Date.now() + 1_000 }))).kind,
      "unavailable",
    );
    stripe.simulator.clearFaults();
    const refunded = await payments.refundPayment(input);
    assert.deepEqual(refunded.refunds.map((r) => [r.amountMinor, r.status]), [[1000n, "succeeded"]]);
    assert.equal(stripe.simulator.refunds().length, 1);
  });
});
