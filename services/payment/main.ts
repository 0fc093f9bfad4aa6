/**
 * The payment service's composition root: read config, build adapters, start the server.
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { Counter } from "prom-client";
import { type ClosableTransport, createServiceTransport } from "@shop/platform/client";
import { describeConfig, loadConfigOrExit } from "@shop/platform/config";
import { createDiscoveryTransport, createResolver, joinDiscovery } from "@shop/platform/discovery";
import { flushLogs, serviceLogger, setupLogging, shipOptionsOf } from "@shop/platform/log";
import { createServiceMetrics, instrumentStore } from "@shop/platform/metrics";
import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { startServer, stopOnSignals } from "@shop/platform/server";
import { readTlsFiles } from "@shop/platform/tls";
import { PaymentOutcomeService } from "@shop/proto/order";
import { paymentConfigSchema, stripeCredentials } from "./config.ts";
import { OrderNoticeRelay } from "./domain/order_notice_relay.ts";
import { Payments } from "./domain/payments.ts";
import { createStripeClient, StripePaymentGateway, StripeWebhookVerifier } from "./gateway/stripe_gateway.ts";
import { PostgresPaymentStore } from "./store/postgres_payment_store.ts";
import { orderOutcomesOverConnect } from "./transport/order_outcomes_client.ts";
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

const tls = await readTlsFiles(config.tls.certsDir, "payment");
// The order service at a fixed address when one is configured, else every live instance found in etcd.
const resolver = config.order.url
  ? undefined
  : createResolver({ etcd: { endpoints: [...config.discovery.etcd] }, prefix: config.discovery.prefix });
const orderTransport: ClosableTransport = resolver
  ? createDiscoveryTransport({ resolver, service: "order", tls })
  : createServiceTransport({ baseUrl: config.order.url, tls });
const relay = new OrderNoticeRelay({
  store,
  orders: orderOutcomesOverConnect(createClient(PaymentOutcomeService, orderTransport)),
  keepDeliveredMs: config.notices.keepDelivered,
  onFailure: ({ orderId, attempts, error }) =>
    log.warning("The order service did not take a payment outcome yet (attempt {attempts}): {error}", {
      orderId,
      attempts,
      error,
    }),
});

const server = await startServer({
  service: "payment",
  host: config.server.host,
  port: config.server.port,
  transport: { tls },
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

// Background work: send payment outcomes to the order service; settle charges whose webhook was lost.
const jobs = [
  periodic("relay order notices", config.notices.interval, async () => {
    await relay.relayDue();
    await relay.purgeDelivered();
  }),
  periodic("reconcile pending charges", config.reconcile.interval, async () => {
    const settled = await payments.reconcilePendingCharges(new Date(Date.now() - config.reconcile.after));
    if (settled > 0) log.info("Settled {count} stale pending charges with Stripe", { count: settled });
  }),
];
server.onShutdown("deregister", async () => {
  await Promise.all(jobs.map((job) => job.stop()));
});
server.onShutdown("close", async () => {
  orderTransport.close();
  await resolver?.close();
  await sql.end({ timeout: 5 });
  await flushLogs();
});
await joinDiscovery(server, config.discovery, "payment");
stopOnSignals(server);

/** Runs `work` every `intervalMs`, one round at a time; `stop()` waits for a round in flight. */
function periodic(name: string, intervalMs: number, work: () => Promise<void>) {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = work()
      .catch((error) => log.error("Background job {name} failed: {error}", { name, error }))
      .finally(() => running = undefined);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
