/**
 * The payment service's composition root: read config, build adapters, start the server.
 *
 * @module
 */
import { describeConfig, loadConfigOrExit } from "@shop/platform/config";
import { joinDiscovery } from "@shop/platform/discovery";
import { serviceLogger, setupLogging } from "@shop/platform/log";
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
const payments = new Payments({
  store: new PostgresPaymentStore(sql),
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
});
await joinDiscovery(server, config.discovery, "payment");
stopOnSignals(server);
