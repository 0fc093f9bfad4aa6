/**
 * The product service's composition root: read config, build adapters, start the server.
 *
 * @module
 */
import { MongoClient } from "mongodb";
import { Counter } from "prom-client";
import { describeConfig, loadConfigOrExit } from "@shop/platform/config";
import { joinDiscovery } from "@shop/platform/discovery";
import { flushLogs, serviceLogger, setupLogging, shipOptionsOf } from "@shop/platform/log";
import { createServiceMetrics, instrumentStore } from "@shop/platform/metrics";
import { startServer, stopOnSignals } from "@shop/platform/server";
import { readTlsFiles } from "@shop/platform/tls";
import { productConfigSchema } from "./config.ts";
import { Catalog } from "./domain/catalog.ts";
import { CatalogView } from "./domain/catalog_view.ts";
import { Inventory } from "./domain/inventory.ts";
import { ReservationBook } from "./domain/reservation_book.ts";
import { StockLog } from "./domain/stock_log.ts";
import { seedDemoCatalog } from "./seed.ts";
import { MongoProductStore } from "./store/mongo_product_store.ts";
import { startLevelRefresh, startSweeper } from "./sweeper.ts";
import { inventoryAllowedPeers, productRoutes } from "./transport/product_routes.ts";

const config = loadConfigOrExit(productConfigSchema, { envPrefix: "SHOP_PRODUCT", args: Deno.args });
await setupLogging({
  service: "product",
  instance: `product-${crypto.randomUUID().slice(0, 8)}`,
  level: config.log.level,
  ship: shipOptionsOf(config.log),
});
const log = serviceLogger("main");
log.info("Starting with {config}", { config: describeConfig(productConfigSchema, config) });

const client = new MongoClient(config.mongo.url, {
  appName: "product",
  maxPoolSize: config.mongo.maxPoolSize,
  serverSelectionTimeoutMS: config.mongo.serverSelectionTimeout,
  // Every call has a deadline: no database operation may hang a handler for ever.
  socketTimeoutMS: 30_000,
});
await client.connect();
// The operator's counters (README "Metrics"), on the registry /metrics serves.
const metrics = createServiceMetrics("product");
const conflicts = new Counter({
  name: "shop_stock_reservation_conflicts_total",
  help: "Stock moves and reservation decisions that lost a race to another writer and were retried.",
  registers: [metrics.registry],
});
const mongoStore = new MongoProductStore(client.db(config.mongo.database));
await mongoStore.ensureIndexes();
const store = instrumentStore(mongoStore, {
  registry: metrics.registry,
  store: "mongo",
  poolSize: config.mongo.maxPoolSize,
});

// One set of stock rules per process, shared by the catalog (stock updates) and the inventory.
const stock = new StockLog(store, { onConflict: () => conflicts.inc() });
const book = new ReservationBook(store, stock, {
  repairAfterMs: config.inventory.repairAfter,
  onConflict: () => conflicts.inc(),
});
const view = new CatalogView(store, { onConflict: () => conflicts.inc() });
await view.load();
const catalog = new Catalog({ store, stock, view });
if (config.mode === "dev") {
  const created = await seedDemoCatalog(catalog);
  log.info("Demo catalog ready ({created} products created)", { created });
}
const inventory = new Inventory({ store, book, view, reservationTtlMs: config.inventory.reservationTtl });
const sweeper = startSweeper(inventory, config.inventory.sweepInterval);
const levels = startLevelRefresh(stock, config.inventory.levelRefreshInterval);

const server = await startServer({
  service: "product",
  host: config.server.host,
  port: config.server.port,
  transport: { tls: await readTlsFiles(config.tls.certsDir, "product") },
  routes: productRoutes(catalog, inventory),
  metrics,
  allowedPeers: inventoryAllowedPeers,
  shutdownGraceMs: config.server.shutdownGrace,
  preStopDelayMs: config.server.preStopDelay,
});
server.onShutdown("close", async () => {
  await Promise.all([sweeper.stop(), levels.stop()]);
  await book.settled();
  await client.close();
  await flushLogs();
});
await joinDiscovery(server, config.discovery, "product");
stopOnSignals(server);
