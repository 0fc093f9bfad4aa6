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

  test("a webhook that settles a pending charge leaves one notice for its order", async (store) => {
    const { payment } = await store.beginCharge(newPayment());
    const settled = await succeeded(store);
    const failure = {
      kind: "failed" as const,
      paymentIntentId: "pi_x",
      failureReason: "no",
      declineCode: "d",
    };
    await store.applyWebhookEvent({ id: "evt_a", type: "payment_intent.payment_failed" }, [
      { kind: "charge", paymentId: payment.id, settlement: failure },
      // Already settled by the direct answer: the order heard it then, so no notice.
      { kind: "charge", paymentId: settled.id, settlement: { kind: "succeeded", paymentIntentId: "pi_y" } },
    ], tick());
    // A second event for the same charge changes nothing and leaves no second notice.
    await store.applyWebhookEvent({ id: "evt_b", type: "payment_intent.succeeded" }, [
      { kind: "charge", paymentId: payment.id, settlement: { kind: "succeeded", paymentIntentId: "pi_x" } },
    ], tick());
    const now = tick();
    const notices = await store.claimOrderNotices(now, new Date(now.getTime() + 30_000), 10);
    assert.deepEqual(
      notices.map((n) => [n.paymentId, n.orderId, n.outcome, n.failureReason, n.attempts]),
      [[payment.id, payment.orderId, "failed", "no", 0]],
    );
  });

  test("settleCharge() leaves a notice only when asked to", async (store) => {
    const quiet = await store.beginCharge(newPayment());
    const told = await store.beginCharge(newPayment());
    const success = { kind: "succeeded" as const, paymentIntentId: "pi_q" };
    await store.settleCharge(quiet.payment.id, success, tick());
    await store.settleCharge(told.payment.id, { ...success, paymentIntentId: "pi_t" }, tick(), {
      notifyOrder: true,
    });
    const now = tick();
    const notices = await store.claimOrderNotices(now, now, 10);
    assert.deepEqual(notices.map((n) => [n.paymentId, n.outcome]), [[told.payment.id, "succeeded"]]);
  });

  test("a claimed notice is hidden until its retry time; a delivered one never comes back and is purged", async (store) => {
    const { payment } = await store.beginCharge(newPayment());
    await store.settleCharge(payment.id, { kind: "succeeded", paymentIntentId: "pi_n" }, tick(), {
      notifyOrder: true,
    });
    const claimedAt = tick();
    const hiddenUntil = new Date(claimedAt.getTime() + 60_000);
    assert.equal((await store.claimOrderNotices(claimedAt, hiddenUntil, 10)).length, 1);
    assert.equal((await store.claimOrderNotices(tick(), tick(), 10)).length, 0);
    // A failed delivery counts the attempt and makes it due again.
    const retryAt = tick();
    await store.retryOrderNoticeAt(payment.id, retryAt);
    const [again] = await store.claimOrderNotices(retryAt, new Date(retryAt.getTime() + 60_000), 10);
    assert.equal(again?.attempts, 1);
    const deliveredAt = tick();
    await store.markOrderNoticesDelivered([payment.id], deliveredAt);
    await store.retryOrderNoticeAt(payment.id, deliveredAt);
    assert.equal((await store.claimOrderNotices(new Date(clock + 3_600_000), new Date(clock), 10)).length, 0);
    assert.equal(await store.purgeDeliveredOrderNotices(deliveredAt), 0);
    assert.equal(await store.purgeDeliveredOrderNotices(tick()), 1);
  });

  test("concurrent relays take different notices", async (store) => {
    for (let i = 0; i < 6; i++) {
      const { payment } = await store.beginCharge(newPayment());
      await store.settleCharge(payment.id, { kind: "succeeded", paymentIntentId: `pi_c${i}` }, tick(), {
        notifyOrder: true,
      });
    }
    const now = tick();
    const until = new Date(now.getTime() + 60_000);
    const taken = await Promise.all(Array.from({ length: 3 }, () => store.claimOrderNotices(now, until, 2)));
    const ids = taken.flat().map((n) => n.paymentId);
    assert.equal(ids.length, 6);
    assert.equal(new Set(ids).size, 6);
  });

  test("findStalePendingCharges() lists charges left PENDING since before a time, oldest first", async (store) => {
    const old = await store.beginCharge(newPayment());
    await succeeded(store);
    const cutoff = tick();
    await store.beginCharge(newPayment());
    const stale = await store.findStalePendingCharges(cutoff, 10);
    assert.deepEqual(stale.map((p) => p.id), [old.payment.id]);
  });
}
