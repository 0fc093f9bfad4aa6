import assert from "node:assert/strict";
import Stripe from "stripe";
import { eventually, stripeMockForTests } from "@shop/platform/testing";
import { startStripeSimulator } from "./simulator.ts";

const upstream = (await stripeMockForTests()).url;

function post(url: string, body: string, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: {
      authorization: "Bearer sk_test_simulator",
      "content-type": "application/x-www-form-urlencoded",
      ...headers,
    },
    body,
  });
}

/** A webhook endpoint on a free port that records what it receives. */
function webhookEndpoint() {
  const received: Array<{ body: string; signature: string }> = [];
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => listening.resolve(port),
  }, async (request) => {
    received.push({ body: await request.text(), signature: request.headers.get("stripe-signature") ?? "" });
    return new Response("ok");
  });
  return {
    received,
    url: listening.promise.then((port) => `http://127.0.0.1:${port}/hook`),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

const visa = "amount=1999&currency=usd&confirm=true&payment_method=pm_card_visa&metadata[order_id]=o-1";

Deno.test("the simulator succeeds and declines as Stripe's test cards do", async () => {
  await using sim = await startStripeSimulator({ upstream });
  const ok = await post(`${sim.url}/v1/payment_intents`, visa);
  const intent = await ok.json();
  assert.equal(ok.status, 200);
  assert.deepEqual([intent.status, intent.amount, intent.metadata], ["succeeded", 1999, { order_id: "o-1" }]);

  const declined = await post(
    `${sim.url}/v1/payment_intents`,
    "amount=500&currency=usd&confirm=true&payment_method=pm_card_chargeDeclinedInsufficientFunds",
  );
  const { error } = await declined.json();
  assert.equal(declined.status, 402);
  assert.deepEqual([error.type, error.code, error.decline_code], [
    "card_error",
    "card_declined",
    "insufficient_funds",
  ]);
  assert.equal(error.payment_intent.status, "requires_payment_method");

  const retrieved = await fetch(`${sim.url}/v1/payment_intents/${intent.id}`, {
    headers: { authorization: "Bearer sk_test_simulator" },
  });
  assert.equal((await retrieved.json()).status, "succeeded");
});

Deno.test("the same Idempotency-Key replays the first answer; other parameters under it are refused", async () => {
  await using sim = await startStripeSimulator({ upstream });
  const first = await (await post(`${sim.url}/v1/payment_intents`, visa, { "idempotency-key": "k-1" }))
    .json();
  const replay = await post(`${sim.url}/v1/payment_intents`, visa, { "idempotency-key": "k-1" });
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal((await replay.json()).id, first.id);
  const other = await post(`${sim.url}/v1/payment_intents`, visa.replace("1999", "2000"), {
    "idempotency-key": "k-1",
  });
  assert.equal(other.status, 400);
  assert.equal((await other.json()).error.type, "idempotency_error");
  assert.equal(sim.simulator.paymentIntents().length, 1);
});

Deno.test("stripe-mock's validation errors come back as they are and keep nothing", async () => {
  await using sim = await startStripeSimulator({ upstream });
  const invalid = await post(`${sim.url}/v1/payment_intents`, "currency=usd", { "idempotency-key": "k-2" });
  assert.equal(invalid.status, 400);
  assert.match((await invalid.json()).error.message, /amount/);
  // Nothing was kept under the key: a valid request may use it.
  assert.equal((await post(`${sim.url}/v1/payment_intents`, visa, { "idempotency-key": "k-2" })).status, 200);
});

Deno.test("refunds are refused beyond what is left of the charge", async () => {
  await using sim = await startStripeSimulator({ upstream });
  const intent = await (await post(`${sim.url}/v1/payment_intents`, visa)).json();
  assert.equal((await post(`${sim.url}/v1/refunds`, `payment_intent=${intent.id}&amount=1500`)).status, 200);
  const tooMuch = await post(`${sim.url}/v1/refunds`, `payment_intent=${intent.id}&amount=500`);
  assert.equal(tooMuch.status, 400);
  assert.equal((await tooMuch.json()).error.code, "amount_too_large");
  const rest = await (await post(`${sim.url}/v1/refunds`, `payment_intent=${intent.id}`)).json();
  assert.equal(rest.amount, 499);
  const again = await post(`${sim.url}/v1/refunds`, `payment_intent=${intent.id}`);
  assert.equal((await again.json()).error.code, "charge_already_refunded");
});

Deno.test("a 500 after the action keeps its result for the key: the retry gets the first answer", async () => {
  await using sim = await startStripeSimulator({ upstream });
  sim.simulator.injectFaults({ mode: "error_500_after_action", count: 1 });
  const lost = await post(`${sim.url}/v1/payment_intents`, visa, { "idempotency-key": "k-3" });
  assert.equal(lost.status, 500);
  await lost.body?.cancel();
  const retry = await (await post(`${sim.url}/v1/payment_intents`, visa, { "idempotency-key": "k-3" }))
    .json();
  assert.equal(retry.status, "succeeded");
  assert.equal(sim.simulator.paymentIntents().length, 1);
});

Deno.test("a delay fault answers late but performs the request as usual", async () => {
  await using sim = await startStripeSimulator({ upstream });
  sim.simulator.injectFaults({ mode: "delay", count: 1, delayMs: 10 });
  const answered = await (await post(`${sim.url}/v1/payment_intents`, visa)).json();
  assert.equal(answered.status, "succeeded");
  sim.simulator.injectFaults({ mode: "delay", count: 1, delayMs: 60_000 });
  const slow = post(`${sim.url}/v1/payment_intents`, visa, { "idempotency-key": "k-slow" });
  // A minute is far longer than this read takes: the slow request has not been performed yet.
  const state = await (await fetch(`${sim.url}/_simulator/state`)).json();
  assert.equal(state.paymentIntents.length, 1);
  await sim.simulator.close();
  await (await slow.catch(() => undefined))?.body?.cancel();
});

Deno.test("faults can be planned over HTTP for a simulator running as a process", async () => {
  await using sim = await startStripeSimulator({ upstream });
  const planned = await fetch(`${sim.url}/_simulator/faults`, {
    method: "POST",
    body: JSON.stringify({ mode: "error_500", count: 1, pathPrefix: "/v1/payment_intents" }),
  });
  assert.equal(planned.status, 200);
  await planned.body?.cancel();
  const failed = await post(`${sim.url}/v1/payment_intents`, visa);
  assert.equal(failed.status, 500);
  await failed.body?.cancel();
  const state = await (await fetch(`${sim.url}/_simulator/state`)).json();
  assert.equal(state.paymentIntents.length, 0, "a fault before the action performs nothing");
});

Deno.test("webhook events are signed so that Stripe's SDK verifies them", async () => {
  await using endpoint = webhookEndpoint();
  const secret = "whsec_simulator_test";
  await using sim = await startStripeSimulator({ upstream, webhook: { url: await endpoint.url, secret } });
  await (await post(`${sim.url}/v1/payment_intents`, visa)).body?.cancel();
  await sim.simulator.deliveriesSettled();
  const [delivery] = endpoint.received;
  assert.ok(delivery);
  const stripe = new Stripe("sk_test_simulator");
  const event = await stripe.webhooks.constructEventAsync(delivery.body, delivery.signature, secret);
  assert.equal(event.type, "payment_intent.succeeded");
  await assert.rejects(
    stripe.webhooks.constructEventAsync(delivery.body, delivery.signature, "whsec_other"),
  );
});

Deno.test("processing payments answer at once and settle later with a webhook event", async () => {
  await using endpoint = webhookEndpoint();
  await using sim = await startStripeSimulator({
    upstream,
    processingDelayMs: 50,
    webhook: { url: await endpoint.url, secret: "whsec_simulator_test" },
  });
  const pay = (card: string, key: string) =>
    post(`${sim.url}/v1/payment_intents`, `amount=700&currency=usd&confirm=true&payment_method=${card}`, {
      "idempotency-key": key,
    });
  const succeeds = await (await pay("pm_card_processing_succeeds", "k-s")).json();
  const fails = await (await pay("pm_card_processing_fails", "k-f")).json();
  assert.deepEqual([succeeds.status, fails.status], ["processing", "processing"]);
  // Stripe replays the first answer for the key, whatever happened since.
  assert.equal((await (await pay("pm_card_processing_succeeds", "k-s")).json()).status, "processing");

  const statusOf = async (id: string) =>
    (await (await fetch(`${sim.url}/v1/payment_intents/${id}`, {
      headers: { authorization: "Bearer sk_test_simulator" },
    })).json()).status;
  await eventually("both outcomes delivered", () => endpoint.received.length >= 2);
  await sim.simulator.deliveriesSettled();
  assert.deepEqual(endpoint.received.map((delivery) => JSON.parse(delivery.body).type).toSorted(), [
    "payment_intent.payment_failed",
    "payment_intent.succeeded",
  ]);
  assert.equal(await statusOf(succeeds.id), "succeeded");
  assert.equal(await statusOf(fails.id), "requires_payment_method");
});
