/**
 * The one contract every {@linkcode PaymentStore} adapter must meet; each adapter's test file runs it.
 *
 * @module
 */
import { contractTest, type StoreFixture as KitStoreFixture } from "@shop/platform/testing";
import assert from "node:assert/strict";
import { DomainError } from "@shop/platform/errors";
import { chargeIdempotencyKey, paymentStatusOf, refundableMinor } from "../domain/payment.ts";
import type { NewPayment, NewRefund, PaymentStore } from "../domain/ports.ts";

/** A fresh, empty store for one test, and how to throw it away. */
export type StoreFixture = KitStoreFixture<PaymentStore>;

let clock = Date.parse("2026-01-01T00:00:00Z");
function tick(): Date {
  clock += 1000;
  return new Date(clock);
}

function newPayment(overrides: Partial<NewPayment> = {}): NewPayment {
  const orderId = overrides.orderId ?? crypto.randomUUID();
  return {
    id: crypto.randomUUID(),
    orderId,
    userId: crypto.randomUUID(),
    amount: { currencyCode: "USD", amountMinor: 1999n },
    paymentMethod: "pm_card_visa",
    idempotencyKey: chargeIdempotencyKey(orderId),
    createTime: tick(),
    ...overrides,
  };
}

function newRefund(paymentId: string, amountMinor: bigint, key: string = crypto.randomUUID()): NewRefund {
  return {
    id: crypto.randomUUID(),
    paymentId,
    amountMinor,
    reason: "",
    idempotencyKey: key,
    createTime: tick(),
  };
}

async function reasonOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof DomainError) return error.reason;
    throw error;
  }
  return "no error";
}

async function succeeded(store: PaymentStore, overrides: Partial<NewPayment> = {}) {
  const { payment } = await store.beginCharge(newPayment(overrides));
  const settled = await store.settleCharge(payment.id, {
    kind: "succeeded",
    paymentIntentId: `pi_${crypto.randomUUID().replaceAll("-", "")}`,
  }, tick());
  assert.ok(settled);
  return settled;
}

/**
 * Registers the contract's tests for one adapter.
 *
 * @example
 * ```ts
 * import { MemoryPaymentStore } from "./memory_payment_store.ts";
 * paymentStoreContract("MemoryPaymentStore", () => Promise.resolve({ store: new MemoryPaymentStore(), cleanup: async () => {} }));
 * ```
 */
export function paymentStoreContract(name: string, fixture: () => Promise<StoreFixture>): void {
  const test = contractTest(name, fixture);

  test("a charge is written PENDING with its idempotency key and found by id and order", async (store) => {
    const input = newPayment();
    const { payment, created } = await store.beginCharge(input);
    assert.equal(created, true);
    assert.equal(payment.chargeStatus, "pending");
    assert.equal(payment.idempotencyKey, input.idempotencyKey);
    assert.equal(payment.amount.amountMinor, 1999n);
    assert.deepEqual(await store.findPayment(payment.id), payment);
    assert.deepEqual(await store.findPaymentByOrder(input.orderId), payment);
    assert.equal(await store.findPayment(crypto.randomUUID()), undefined);
  });

  test("concurrent charges of one order write exactly one payment", async (store) => {
    const orderId = crypto.randomUUID();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => store.beginCharge(newPayment({ orderId }))),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.payment.id)).size, 1);
    assert.equal((await store.listPayments(orderId, 10, undefined)).payments.length, 1);
  });

  test("a settled charge keeps its outcome; a late answer only fills in the intent id", async (store) => {
    const { payment } = await store.beginCharge(newPayment());
    await store.settleCharge(payment.id, {
      kind: "failed",
      paymentIntentId: undefined,
      failureReason: "Your card was declined.",
      declineCode: "generic_decline",
    }, tick());
    const late = await store.settleCharge(
      payment.id,
      { kind: "succeeded", paymentIntentId: "pi_late" },
      tick(),
    );
    assert.equal(late?.chargeStatus, "failed");
    assert.equal(late?.declineCode, "generic_decline");
    assert.equal(late?.stripePaymentIntentId, "pi_late");
    assert.equal((await store.findPaymentByIntent("pi_late"))?.id, payment.id);
  });

  test("refunds reserve their amount; more than is left is REFUND_EXCEEDS_PAYMENT", async (store) => {
    const payment = await succeeded(store);
    const first = await store.beginRefund(newRefund(payment.id, 1000n));
    assert.equal(first.created, true);
    assert.equal(await reasonOf(store.beginRefund(newRefund(payment.id, 1000n))), "REFUND_EXCEEDS_PAYMENT");
    await store.settleRefund(first.refund.id, { kind: "succeeded", stripeRefundId: "re_1" }, tick());
    const after = await store.findPayment(payment.id);
    assert.ok(after);
    assert.equal(refundableMinor(after), 999n);
    assert.equal(paymentStatusOf(after), "partially_refunded");
    await store.beginRefund(newRefund(payment.id, 999n));
  });

  test("a failed refund frees its amount again", async (store) => {
    const payment = await succeeded(store);
    const { refund } = await store.beginRefund(newRefund(payment.id, 1999n));
    await store.settleRefund(
      refund.id,
      { kind: "failed", stripeRefundId: undefined, failureReason: "no" },
      tick(),
    );
    const again = await store.beginRefund(newRefund(payment.id, 1999n));
    await store.settleRefund(again.refund.id, { kind: "succeeded", stripeRefundId: "re_2" }, tick());
    const after = await store.findPayment(payment.id);
    assert.ok(after);
    assert.equal(paymentStatusOf(after), "refunded");
    assert.deepEqual(after.refunds.map((r) => r.status), ["failed", "succeeded"]);
  });

  test("concurrent refunds never together exceed the captured amount", async (store) => {
    const payment = await succeeded(store);
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => store.beginRefund(newRefund(payment.id, 700n))),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 2);
    const after = await store.findPayment(payment.id);
    assert.equal(after && refundableMinor(after), 599n);
  });

  test("a refund key already used returns that refund and reserves nothing more", async (store) => {
    const payment = await succeeded(store);
    const first = await store.beginRefund(newRefund(payment.id, 500n, "key-1"));
    const again = await store.beginRefund(newRefund(payment.id, 500n, "key-1"));
    assert.equal(again.created, false);
    assert.equal(again.refund.id, first.refund.id);
    const after = await store.findPayment(payment.id);
    assert.equal(after && refundableMinor(after), 1499n);
  });

  test("a payment that did not succeed cannot be refunded", async (store) => {
    const { payment } = await store.beginCharge(newPayment());
    assert.equal(await reasonOf(store.beginRefund(newRefund(payment.id, 1n))), "INVALID_STATE");
  });

  test("a webhook event is applied once", async (store) => {
    const { payment } = await store.beginCharge(newPayment());
    const effects = [{
      kind: "charge" as const,
      paymentId: payment.id,
      settlement: { kind: "succeeded" as const, paymentIntentId: "pi_hook" },
    }];
    assert.equal(
      await store.applyWebhookEvent({ id: "evt_1", type: "payment_intent.succeeded" }, effects, tick()),
      true,
    );
    const first = await store.findPayment(payment.id);
    assert.equal(first?.chargeStatus, "succeeded");
    assert.equal(
      await store.applyWebhookEvent({ id: "evt_1", type: "payment_intent.succeeded" }, effects, tick()),
      false,
    );
    assert.deepEqual(await store.findPayment(payment.id), first);
  });

  test("listPayments() pages the payments of one order only", async (store) => {
    const mine = await succeeded(store);
    await succeeded(store);
    const page = await store.listPayments(mine.orderId, 1, undefined);
    assert.deepEqual(page.payments.map((p) => p.id), [mine.id]);
    assert.equal(page.next, undefined);
  });
}
