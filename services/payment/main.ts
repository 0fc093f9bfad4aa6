/**
 * The payment service's composition root: read config, build adapters, start the server.
 *
 * @module
 */
import { Counter } from "prom-client";
import { describeConfig, loadConfigOrExit } from "@shop/platform/config";
import { joinDiscovery } from "@shop/platform/discovery";
import { flushLogs, serviceLogger, setupLogging, shipOptionsOf } from "@shop/platform/log";
import { createServiceMetrics, instrumentStore } from "@shop/platform/metrics";
import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { startServer, stopOnSignals } from "@shop/platform/server";
import { readTlsFiles } from "@shop/platform/tls";
import { paymentConfigSchema, stripeCredentials } from "./config.ts";
import { Payments } from "./domain/payments.ts";
import { createStripeClient, StripePaymentGateway, StripeWebhookVerifier } from "./gateway/stripe_gateway.ts";
import { PostgresPaymentStore } from "./store/postgres_payment_store.ts";
import { paymentAllowedPeers, paymentRoutes } from "./transport/payment_routes.ts";
import { stripeWebhookRoute } from "./transport/webhook_route.ts";

const config = loadConfigOrExit(paymentConfigSchema, { envPrefix: "SHOP_PAYMENT", args: Deno.args });
const credentials = stripeCredentials(config);
if (typeof credentials === "string") {
  Deno.stderr.writeSync(new TextEncoder().encode(`${credentials}\n`));
  Deno.exit(2);
}
await setupLogging({
  service: "payment",
  instance: `payment-${crypto.randomUUID().slice(0, 8)}`,
  level: config.log.level,
  ship: shipOptionsOf(config.log),
});
const log = serviceLogger("main");
log.info("Starting with {config}", { config: describeConfig(paymentConfigSchema, config) });
if (config.mode === "dev" && !config.stripe.apiKey) {
  log.warning("Using the DEV-ONLY Stripe test key; point stripe.baseUrl at the Stripe simulator");
}

const sql = connectPostgres({
  url: config.database.url,
  applicationName: "payment",
  maxConnections: config.database.maxConnections,
});
await migrate(sql, await readMigrations(new URL("./store/migrations/", import.meta.url)));

const stripe = createStripeClient({ apiKey: credentials.apiKey, baseUrl: config.stripe.baseUrl });
// The operator's counters (README "Metrics"), on the registry /metrics serves.
const metrics = createServiceMetrics("payment");
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

const server = await startServer({
  service: "payment",
  host: config.server.host,
  port: config.server.port,
  transport: { tls: await readTlsFiles(config.tls.certsDir, "payment") },
  routes: paymentRoutes(payments),
  metrics,
  allowedPeers: paymentAllowedPeers,
  httpRoutes: [
    stripeWebhookRoute(payments, new StripeWebhookVerifier(stripe, credentials.webhookSecret), {
      timeoutMs: config.timeouts.webhook,
    }),
  ],
  shutdownGraceMs: config.server.shutdownGrace,
  preStopDelayMs: config.server.preStopDelay,
});
server.onShutdown("close", async () => {
  await sql.end({ timeout: 5 });
  await flushLogs();
});
await joinDiscovery(server, config.discovery, "payment");
stopOnSignals(server);
