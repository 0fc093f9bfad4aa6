import assert from "node:assert/strict";
import Stripe from "stripe";
import { stripeMockForTests } from "./stripe_mock.ts";

Deno.test("stripeMockForTests() answers the official stripe SDK", async () => {
  const { host, port, protocol } = await stripeMockForTests();
  const stripe = new Stripe("sk_test_123", { host, port, protocol, maxNetworkRetries: 0 });
  const intent = await stripe.paymentIntents.create({
    amount: 1999,
    currency: "usd",
  });
  assert.equal(intent.object, "payment_intent");
  assert.match(intent.id, /^pi_/);
  assert.equal(typeof intent.client_secret, "string");
});

Deno.test("stripeMockForTests() rejects a request that Stripe's API would reject", async () => {
  const { host, port, protocol } = await stripeMockForTests();
  const stripe = new Stripe("sk_test_123", { host, port, protocol, maxNetworkRetries: 0 });
  await assert.rejects(
    // amount is required: stripe-mock validates every request against Stripe's OpenAPI document.
    stripe.paymentIntents.create({ currency: "usd" } as Stripe.PaymentIntentCreateParams),
    (error: unknown) => error instanceof Stripe.errors.StripeInvalidRequestError,
  );
});
