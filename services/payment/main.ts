/**
 * The payment service's composition root: its store, the Stripe gateway and the webhook route, on the
 * kit's service skeleton (`runService`).
 *
 * @module
 */
import { Counter } from "prom-client";
import { instrumentStore } from "@shop/platform/metrics";
import { runService } from "@shop/platform/service";
import { paymentConfigSchema, stripeCredentials } from "./config.ts";
import { Payments } from "./domain/payments.ts";
import { createStripeClient, StripePaymentGateway, StripeWebhookVerifier } from "./gateway/stripe_gateway.ts";
import { PostgresPaymentStore } from "./store/postgres_payment_store.ts";
import { paymentAllowedPeers, paymentRoutes } from "./transport/payment_routes.ts";
import { stripeWebhookRoute } from "./transport/webhook_route.ts";

await runService({
  service: "payment",
  schema: paymentConfigSchema,
  check: (config) => {
    const credentials = stripeCredentials(config);
    return typeof credentials === "string" ? credentials : undefined;
  },
  setup: async ({ config, log, metrics, postgres }) => {
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

    const payments = new Payments({
      store: instrumentStore(new PostgresPaymentStore(sql), {
        registry: metrics.registry,
        store: "postgres",
        poolSize: config.database.maxConnections,
      }),
      onEvent: (event) => charges.inc({ outcome: event.outcome }),
      gateway: new StripePaymentGateway(stripe),
      retry: {
        attemptTimeoutMs: config.timeouts.stripeRequest,
        baseDelayMs: config.timeouts.retryBaseDelay,
        maxDelayMs: config.timeouts.retryMaxDelay,
      },
      defaultDeadlineMs: config.timeouts.call,
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
