/**
 * The payment service's composition root: its store, the Stripe gateway and the webhook route, on the
 * kit's service skeleton (`runService`).
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { Counter } from "prom-client";
import { instrumentStore } from "@shop/platform/metrics";
import { outboxRelayMetrics } from "@shop/platform/outbox";
import { runService } from "@shop/platform/service";
import { contextFromHeaders, inSpan, SpanKind } from "@shop/platform/tracing";
import { PaymentOutcomeService } from "@shop/proto/order";
import { paymentConfigSchema, stripeCredentials } from "./config.ts";
import { OrderNoticeRelay } from "./domain/order_notice_relay.ts";
import { Payments } from "./domain/payments.ts";
import { createStripeClient, StripePaymentGateway, StripeWebhookVerifier } from "./gateway/stripe_gateway.ts";
import { PostgresPaymentStore } from "./store/postgres_payment_store.ts";
import { orderOutcomesOverConnect } from "./transport/order_outcomes_client.ts";
import { paymentAllowedPeers, paymentRoutes } from "./transport/payment_routes.ts";
import { stripeWebhookRoute } from "./transport/webhook_route.ts";

await runService({
  service: "payment",
  schema: paymentConfigSchema,
  check: (config) => {
    const credentials = stripeCredentials(config);
    return typeof credentials === "string" ? credentials : undefined;
  },
  setup: async ({ config, log, metrics, postgres, every, transportTo }) => {
    const credentials = stripeCredentials(config);
    if (typeof credentials === "string") throw new Error(credentials); // refused by `check` already
    if (config.mode === "dev" && !config.stripe.apiKey) {
      log.warning("Using the DEV-ONLY Stripe test key; point stripe.baseUrl at the Stripe simulator");
    }
    const sql = await postgres(new URL("./store/migrations/", import.meta.url));

    const stripe = createStripeClient({ apiKey: credentials.apiKey, baseUrl: config.stripe.baseUrl });
    // The operator's counters (README "Metrics"), on the registry /metrics serves.
    const charges = new Counter({
      name: "shop_payments_total",
      help: "Charges sent to Stripe, by outcome: succeeded, pending, declined, rejected, unavailable.",
      labelNames: ["outcome"],
      registers: [metrics.registry],
    });
    for (const outcome of ["succeeded", "declined", "unavailable"]) charges.inc({ outcome }, 0);

    const store = instrumentStore(new PostgresPaymentStore(sql), {
      registry: metrics.registry,
      store: "postgres",
      poolSize: config.database.maxConnections,
    });
    const payments = new Payments({
      store,
      onEvent: (event) => charges.inc({ outcome: event.outcome }),
      gateway: new StripePaymentGateway(stripe),
      retry: {
        attemptTimeoutMs: config.timeouts.stripeRequest,
        baseDelayMs: config.timeouts.retryBaseDelay,
        maxDelayMs: config.timeouts.retryMaxDelay,
      },
      defaultDeadlineMs: config.timeouts.call,
    });

    // The order service at a fixed address when one is configured, else every live instance found in etcd.
    const orderTransport = transportTo("order", config.order.url);
    const relay = new OrderNoticeRelay({
      store,
      orders: orderOutcomesOverConnect(createClient(PaymentOutcomeService, orderTransport)),
      keepDeliveredMs: config.notices.keepDelivered,
      metrics: outboxRelayMetrics(metrics.registry, "order_notices"),
      // Each delivery continues the trace of the webhook (or reconciliation) that settled the charge.
      observeDelivery: (notice, deliver) =>
        inSpan("outbox.relay order_notices", {
          kind: SpanKind.PRODUCER,
          ...(notice.traceParent === undefined
            ? {}
            : { parent: contextFromHeaders(new Headers({ traceparent: notice.traceParent })) }),
          attributes: { "shop.order.id": notice.orderId, "shop.payment.id": notice.paymentId },
        }, deliver),
      onFailure: ({ orderId, attempts, error }) =>
        log.warning("The order service did not take a payment outcome yet (attempt {attempts}): {error}", {
          orderId,
          attempts,
          error,
        }),
    });
    // Payment outcomes to the order service, from the outbox; charges whose webhook was lost, from Stripe.
    every("relay-order-notices", config.notices.interval, async () => {
      await relay.relayDue();
      await relay.purgeDelivered();
    });
    every("reconcile-pending-charges", config.reconcile.interval, async () => {
      const settled = await payments.reconcilePendingCharges(new Date(Date.now() - config.reconcile.after));
      if (settled > 0) log.info("Settled {count} stale pending charges with Stripe", { count: settled });
    });

    return {
      routes: paymentRoutes(payments),
      allowedPeers: paymentAllowedPeers,
      httpRoutes: [
        stripeWebhookRoute(payments, new StripeWebhookVerifier(stripe, credentials.webhookSecret), {
          timeoutMs: config.timeouts.webhook,
        }),
      ],
    };
  },
});
