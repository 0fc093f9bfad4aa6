/**
 * The order service's composition root: read config, build adapters, start the server and the saga
 * recovery loop.
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { Counter } from "prom-client";
import { type ClosableTransport, createServiceTransport } from "@shop/platform/client";
import { describeConfig, loadConfigOrExit } from "@shop/platform/config";
import {
  createDiscoveryTransport,
  createResolver,
  joinDiscovery,
  type Resolver,
} from "@shop/platform/discovery";
import { flushLogs, serviceLogger, setupLogging, shipOptionsOf } from "@shop/platform/log";
import { createServiceMetrics, instrumentStore } from "@shop/platform/metrics";
import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { startServer, stopOnSignals } from "@shop/platform/server";
import { readTlsFiles } from "@shop/platform/tls";
import { PaymentProcessorService } from "@shop/proto/payment";
import { InventoryService } from "@shop/proto/product";
import { orderConfigSchema, productionRefusal } from "./config.ts";
import { Checkout } from "./domain/checkout.ts";
import { PostgresOrderStore } from "./store/postgres_order_store.ts";
import { inventoryOverConnect } from "./transport/inventory_client.ts";
import { orderAllowedPeers, orderRoutes } from "./transport/order_routes.ts";
import { paymentsOverConnect } from "./transport/payment_client.ts";

const config = loadConfigOrExit(orderConfigSchema, { envPrefix: "SHOP_ORDER", args: Deno.args });
const refusal = productionRefusal(config);
if (refusal) {
  Deno.stderr.writeSync(new TextEncoder().encode(`${refusal}\n`));
  Deno.exit(2);
}
const instanceId = `order-${crypto.randomUUID().slice(0, 8)}`;
await setupLogging({
  service: "order",
  instance: instanceId,
  level: config.log.level,
  ship: shipOptionsOf(config.log),
});
const log = serviceLogger("main");
log.info("Starting with {config}", { config: describeConfig(orderConfigSchema, config) });

const sql = connectPostgres({
  url: config.database.url,
  applicationName: "order",
  maxConnections: config.database.maxConnections,
});
await migrate(sql, await readMigrations(new URL("./store/migrations/", import.meta.url)));

const tls = await readTlsFiles(config.tls.certsDir, "order");
// Each dependency at a fixed address when one is configured, else every live instance found in etcd.
let resolver: Resolver | undefined;
function transportTo(service: "product" | "payment", fixedUrl: string): ClosableTransport {
  if (fixedUrl) return createServiceTransport({ baseUrl: fixedUrl, tls });
  resolver ??= createResolver({
    etcd: { endpoints: [...config.discovery.etcd] },
    prefix: config.discovery.prefix,
  });
  return createDiscoveryTransport({ resolver, service, tls });
}
const productTransport = transportTo("product", config.product.url);
const paymentTransport = transportTo("payment", config.payment.url);

const crashAfter = config.faults.crashAfter;
if (crashAfter) {
  log.warn("TEST FAULT ARMED: the process kills itself after the saga step {step}", { step: crashAfter });
}

// The operator's counters (README "Metrics"), on the registry /metrics serves.
const metrics = createServiceMetrics("order");
const orders = new Counter({
  name: "shop_orders_total",
  help: "Orders that reached an outcome: paid, failed (the saga compensates) or cancelled.",
  labelNames: ["outcome"],
  registers: [metrics.registry],
});
const compensations = new Counter({
  name: "shop_saga_compensations_total",
  help: "Checkout sagas that turned to compensation (stock released, charge refunded), by reason.",
  labelNames: ["reason"],
  registers: [metrics.registry],
});
for (const outcome of ["paid", "failed", "cancelled"]) orders.inc({ outcome }, 0);

const checkout = new Checkout({
  store: instrumentStore(new PostgresOrderStore(sql), {
    registry: metrics.registry,
    store: "postgres",
    poolSize: config.database.maxConnections,
  }),
  inventory: inventoryOverConnect(createClient(InventoryService, productTransport)),
  payments: paymentsOverConnect(createClient(PaymentProcessorService, paymentTransport)),
  instanceId,
  sagaBudgetMs: config.saga.budget,
  onEvent: (event) =>
    event.type === "order_settled"
      ? orders.inc({ outcome: event.outcome })
      : compensations.inc({ reason: event.reason }),
  leaseMs: config.saga.lease,
  ...(crashAfter
    ? { faultAfter: (point) => point === crashAfter ? Deno.kill(Deno.pid, "SIGKILL") : undefined }
    : {}),
});

const server = await startServer({
  service: "order",
  host: config.server.host,
  port: config.server.port,
  transport: { tls },
  routes: orderRoutes(checkout),
  allowedPeers: orderAllowedPeers,
  metrics,
  shutdownGraceMs: config.server.shutdownGrace,
  preStopDelayMs: config.server.preStopDelay,
});

// Resumes sagas whose process died or gave up (see domain/checkout.ts).
let recovering = false;
const recovery = setInterval(async () => {
  if (recovering) return;
  recovering = true;
  try {
    const resumed = await checkout.recoverStalled();
    if (resumed > 0) log.info("Resumed {count} stalled checkouts", { count: resumed });
  } catch (error) {
    log.error("Saga recovery failed: {error}", { error });
  } finally {
    recovering = false;
  }
}, config.saga.recoveryInterval);

server.onShutdown("deregister", () => clearInterval(recovery));
await joinDiscovery(server, config.discovery, "order");
server.onShutdown("close", async () => {
  productTransport.close();
  paymentTransport.close();
  await resolver?.close();
  await sql.end({ timeout: 5 });
  await flushLogs();
});
stopOnSignals(server);
