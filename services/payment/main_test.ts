/**
 * The payment service as a real process: PostgreSQL from the harness, mTLS, the Stripe simulator in front
 * of stripe-mock, and webhooks over HTTPS.
 */
import assert from "node:assert/strict";
import { Code, createClient } from "@connectrpc/connect";
import { createServiceTransport } from "@shop/platform/client";
import { gatewayClaims } from "@shop/platform/server";
import { failure, postgresForTests, stripeMockForTests } from "@shop/platform/testing";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { ErrorInfoSchema } from "@shop/proto/google";
import { PaymentProcessorService, PaymentService, PaymentStatus } from "@shop/proto/payment";
import { startServiceProcess } from "../platform/testing/service_process.ts";
import { stripeSignature } from "./stripe_simulator/simulator.ts";
import { startStripeSimulator } from "./stripe_simulator/simulator.ts";

const certsDir = await ensureDevCertificates();
const main = new URL("./main.ts", import.meta.url);
const webhookSecret = "whsec_main_test_only";
const upstream = (await stripeMockForTests()).url;

/** The service, the simulator it talks to (sending webhooks back to it), and clients as order and gateway. */
async function withStack(
  label: string,
  body: (stack: {
    url: string;
    sim: Awaited<ReturnType<typeof startStripeSimulator>>;
    processor: ReturnType<typeof createClient<typeof PaymentProcessorService>>;
    processorAsGateway: ReturnType<typeof createClient<typeof PaymentProcessorService>>;
    ledger: ReturnType<typeof createClient<typeof PaymentService>>;
    https: Deno.HttpClient;
  }) => Promise<void>,
): Promise<void> {
  await using db = await (await postgresForTests()).createDatabase({ label });
  await using sim = await startStripeSimulator({ upstream });
  await using service = await startServiceProcess(main, {
    env: {
      SHOP_ENV: "dev",
      SHOP_PAYMENT_SERVER_PORT: "0",
      SHOP_PAYMENT_DISCOVERY_ENABLED: "false",
      SHOP_PAYMENT_DATABASE_URL: db.url,
      SHOP_PAYMENT_TLS_CERTS_DIR: certsDir,
      SHOP_PAYMENT_STRIPE_BASE_URL: sim.url,
      SHOP_PAYMENT_STRIPE_WEBHOOK_SECRET: webhookSecret,
      SHOP_PAYMENT_TIMEOUTS_STRIPE_REQUEST: "300ms",
      SHOP_PAYMENT_TIMEOUTS_RETRY_BASE_DELAY: "20ms",
      SHOP_PAYMENT_TIMEOUTS_RETRY_MAX_DELAY: "100ms",
    },
  });
  const gatewayTls = await readTlsFiles(certsDir, "gateway");
  const https = Deno.createHttpClient({
    caCerts: [gatewayTls.ca],
    cert: gatewayTls.cert,
    key: gatewayTls.key,
  });
  sim.simulator.setWebhook({
    url: `${service.url}/v1/webhooks/stripe`,
    secret: webhookSecret,
    client: https,
  });
  const asOrder = createServiceTransport({
    baseUrl: service.url,
    tls: await readTlsFiles(certsDir, "order"),
  });
  const asGateway = createServiceTransport({ baseUrl: service.url, tls: gatewayTls });
  try {
    await body({
      url: service.url,
      sim,
      processor: createClient(PaymentProcessorService, asOrder),
      processorAsGateway: createClient(PaymentProcessorService, asGateway),
      ledger: createClient(PaymentService, asGateway),
      https,
    });
    await sim.simulator.deliveriesSettled();
  } finally {
    asOrder.close();
    asGateway.close();
    await sim.close();
    https.close();
  }
}

const admin = { headers: gatewayClaims({ sub: crypto.randomUUID(), role: "admin" }) };

function charge(paymentMethod = "pm_card_mastercard") {
  return {
    orderId: crypto.randomUUID(),
    userId: crypto.randomUUID(),
    amount: { currencyCode: "USD", amountMinor: 2500n },
    paymentMethod,
  };
}

Deno.test("the payment service charges once per order for the order service, refunds within the amount, and refuses others", async () => {
  await withStack("payment_main", async ({ url, sim, processor, processorAsGateway, ledger, https }) => {
    const request = charge();
    const first = await processor.charge(request);
    const repeated = await Promise.all([
      processor.charge(request),
      processor.charge(request),
      processor.charge(request),
    ]);
    assert.equal(first.payment?.status, PaymentStatus.SUCCEEDED);
    assert.ok(repeated.every((r) => r.payment?.id === first.payment?.id));
    assert.equal(sim.simulator.paymentIntents().length, 1);

    assert.equal((await failure(processorAsGateway.charge(charge(), admin))).code, Code.PermissionDenied);

    const declined = await failure(processor.charge(charge("pm_card_chargeDeclined")));
    assert.equal(declined.code, Code.FailedPrecondition);
    const info = declined.findDetails(ErrorInfoSchema)[0];
    assert.deepEqual([info?.reason, info?.metadata.decline_code], ["PAYMENT_DECLINED", "generic_decline"]);

    // An admin refunds part; more than is left is a 400 with REFUND_EXCEEDS_PAYMENT (Connect JSON over HTTP).
    const id = first.payment?.id ?? "";
    const partial = await ledger.refundPayment(
      { id, amount: { currencyCode: "USD", amountMinor: 1000n } },
      admin,
    );
    assert.equal(partial.payment?.status, PaymentStatus.PARTIALLY_REFUNDED);
    const response = await fetch(`${url}/shop.payment.v1.PaymentService/RefundPayment`, {
      method: "POST",
      client: https,
      headers: { "content-type": "application/json", ...admin.headers },
      body: JSON.stringify({ id, amount: { currencyCode: "USD", amountMinor: "1501" } }),
    });
    const body = await response.json();
    assert.equal(response.status, 400);
    assert.equal(body.code, "invalid_argument");
    assert.equal(body.details?.[0]?.debug?.reason, "REFUND_EXCEEDS_PAYMENT");
    const refunded = await processor.refundOrder({ orderId: request.orderId, reason: "cancelled" });
    assert.equal(refunded.payment?.status, PaymentStatus.REFUNDED);
    assert.equal(refunded.payment?.refundedAmount?.amountMinor, 2500n);
  });
});

Deno.test("a charge whose answer was lost is settled by Stripe's signed webhook, once; a forged one changes nothing", async () => {
  await withStack("payment_webhook", async ({ url, sim, processor, ledger, https }) => {
    const request = charge();
    sim.simulator.injectFaults({ mode: "timeout_after_action", count: 1 });
    sim.simulator.injectFaults({ mode: "error_500", count: 1_000 });
    assert.equal((await failure(processor.charge(request, { timeoutMs: 1_500 }))).code, Code.Unavailable);

    await sim.simulator.deliveriesSettled();
    const [event] = sim.simulator.sentEvents();
    assert.equal(event?.type, "payment_intent.succeeded");
    assert.equal(event?.status, 200);
    const settled = (await ledger.listPayments({ orderId: request.orderId }, admin)).payments[0];
    assert.equal(settled?.status, PaymentStatus.SUCCEEDED, "the webhook settled the PENDING payment");

    const post = (payload: string, signature: string) =>
      fetch(`${url}/v1/webhooks/stripe`, {
        method: "POST",
        client: https,
        headers: { "content-type": "application/json", "stripe-signature": signature },
        body: payload,
      });
    const again = await post(event?.payload ?? "", event?.signature ?? "");
    assert.equal(again.status, 200);
    await again.body?.cancel();
    const forgedPayload = (event?.payload ?? "").replace(/"evt_\w+"/, '"evt_forged"').replace(
      "payment_intent.succeeded",
      "payment_intent.payment_failed",
    );
    const forged = await post(
      forgedPayload,
      await stripeSignature(forgedPayload, "whsec_wrong", Math.floor(Date.now() / 1000)),
    );
    assert.equal(forged.status, 400);
    await forged.body?.cancel();
    assert.deepEqual((await ledger.listPayments({ orderId: request.orderId }, admin)).payments[0], settled);

    sim.simulator.clearFaults();
    const retried = await processor.charge(request);
    assert.equal(retried.payment?.id, settled?.id);
    assert.equal(sim.simulator.paymentIntents().length, 1);
  });
});
