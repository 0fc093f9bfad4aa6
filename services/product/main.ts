/**
 * The product service's composition root: its MongoDB store, the stock rules, the catalog view each
 * instance keeps current, the demo catalog in dev, and the background jobs (the sweeper that expires
 * reservations, the refresh of the stock levels readers see), on the kit's service skeleton
 * (`runService`).
 *
 * @module
 */
import { traceMongoCommands, tracingEnabled } from "@shop/platform/tracing";
import { MongoClient } from "mongodb";
import { Counter } from "prom-client";
import { instrumentStore } from "@shop/platform/metrics";
import { runService } from "@shop/platform/service";
import { productConfigSchema } from "./config.ts";
import { Catalog } from "./domain/catalog.ts";
import { CatalogView } from "./domain/catalog_view.ts";
import { Inventory } from "./domain/inventory.ts";
import { ReservationBook } from "./domain/reservation_book.ts";
import { StockLog } from "./domain/stock_log.ts";
import { seedDemoCatalog } from "./seed.ts";
import { MongoProductStore } from "./store/mongo_product_store.ts";
import { inventoryAllowedPeers, productRoutes } from "./transport/product_routes.ts";

await runService({
  service: "product",
  schema: productConfigSchema,
  setup: async ({ config, log, metrics, every, onClose }) => {
    const client = new MongoClient(config.mongo.url, {
      appName: "product",
      maxPoolSize: config.mongo.maxPoolSize,
      serverSelectionTimeoutMS: config.mongo.serverSelectionTimeout,
      // Every call has a deadline: no database operation may hang a handler for ever.
      socketTimeoutMS: 30_000,
      // A span per command (traceMongoCommands), when this process traces.
      monitorCommands: tracingEnabled(),
    });
    traceMongoCommands(client);
    await client.connect();
    // The operator's counters (README "Metrics"), on the registry /metrics serves.
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
    const view = new CatalogView(store, {
      onConflict: () => conflicts.inc(),
      stalenessMs: config.catalog.staleness,
      knownLevel: (productId) => stock.known(productId),
    });
    await view.load();
    const catalog = new Catalog({ store, stock, view });
    if (config.mode === "dev") {
      const created = await seedDemoCatalog(catalog);
      log.info("Demo catalog ready ({created} products created)", { created });
    }
    const inventory = new Inventory({ store, book, view, reservationTtlMs: config.inventory.reservationTtl });
    onClose(async () => {
      await book.settled();
      await client.close();
    });

    // Every instance sweeps: sweeps are safe to run concurrently (each step is decided by a unique
    // insert), so no leader is needed.
    every("sweeper", config.inventory.sweepInterval, async () => {
      const report = await inventory.sweep();
      if (report.expired > 0 || report.repaired > 0) {
        log.info("Expired {expired} reservations, repaired {repaired} half-done changes", { ...report });
      }
    });
    // Rewrites stock levels that do not show this instance's latest moves (StockLog.refreshLevels).
    every("stock-levels", config.inventory.levelRefreshInterval, async () => {
      const rewritten = await stock.refreshLevels();
      if (rewritten > 0) log.debug("Rewrote {rewritten} stale stock levels", { rewritten });
    });

    return { routes: productRoutes(catalog, inventory), allowedPeers: inventoryAllowedPeers };
  },
});
