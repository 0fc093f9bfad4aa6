/**
 * Builds the payment rules over the memory ledger and the fake gateway, for handler tests.
 *
 * @module
 */
import Stripe from "stripe";
import { Payments, type PaymentsDeps } from "../domain/payments.ts";
import { StripeWebhookVerifier } from "../gateway/stripe_gateway.ts";
import { MemoryPaymentStore } from "../store/memory_payment_store.ts";
import { FakePaymentGateway } from "./fake_gateway.ts";

/** The endpoint secret handler tests sign webhooks with. */
export const testWebhookSecret = "whsec_handler_tests_only";

/** Everything a handler test needs. */
export interface PaymentsFixture {
  payments: Payments;
  store: MemoryPaymentStore;
  gateway: FakePaymentGateway;
  verifier: StripeWebhookVerifier;
}

/**
 * Creates the fixture; `overrides` replace parts of the rules' dependencies. Retries back off in
 * milliseconds so tests stay quick.
 *
 * @example
 * ```ts
 * const { payments, gateway } = createPaymentsFixture();
 * ```
 */
export function createPaymentsFixture(overrides: Partial<PaymentsDeps> = {}): PaymentsFixture {
  const store = new MemoryPaymentStore();
  const gateway = new FakePaymentGateway();
  const payments = new Payments({
    store,
    gateway,
    retry: { baseDelayMs: 5, maxDelayMs: 20, attemptTimeoutMs: 2_000, minAttemptMs: 50 },
    defaultDeadlineMs: 3_000,
    settleReserveMs: 50,
    ...overrides,
  });
  // Verifying signatures needs no network: the SDK only computes an HMAC.
  const verifier = new StripeWebhookVerifier(new Stripe("sk_test_offline"), testWebhookSecret);
  return { payments, store, gateway, verifier };
}
