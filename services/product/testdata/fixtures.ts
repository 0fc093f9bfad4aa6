/**
 * Builds the product service's rules over the memory store with a clock tests can move, and a transport
 * into its handlers, for handler tests.
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { gatewayClaims, inMemoryTransport } from "@shop/platform/server";
import { InventoryService, ProductService } from "@shop/proto/product";
import { Catalog } from "../domain/catalog.ts";
import { CatalogView } from "../domain/catalog_view.ts";
import { Inventory } from "../domain/inventory.ts";
import { ReservationBook } from "../domain/reservation_book.ts";
import { StockLog } from "../domain/stock_log.ts";
import { MemoryProductStore } from "../store/memory_product_store.ts";
import { inventoryAllowedPeers, productRoutes } from "../transport/product_routes.ts";

/** Everything a handler test needs. */
export interface ProductFixture {
  store: MemoryProductStore;
  catalog: Catalog;
  inventory: Inventory;
  /** ProductService as the gateway calls it. */
  products: ReturnType<typeof createClient<typeof ProductService>>;
  /** InventoryService as the order service calls it. */
  stock: ReturnType<typeof createClient<typeof InventoryService>>;
  /** The service's routes, for a transport of the test's own (with interceptors, say). */
  routes: ReturnType<typeof productRoutes>;
  /** Advances the clock the rules see. */
  advance(ms: number): void;
}

/** The reservation lifetime handler tests use. */
export const testReservationTtlMs = 60_000;

/**
 * Creates the fixture.
 *
 * @example
 * ```ts
 * const { products } = createProductFixture();
 * ```
 */
export function createProductFixture(): ProductFixture {
  let offsetMs = 0;
  let last = 0;
  // Strictly increasing, so that products created one after another keep that order in the catalog
  // (within one millisecond the order would fall back to their random ids).
  const now = () => {
    last = Math.max(last + 1, Date.now() + offsetMs);
    return new Date(last);
  };
  const store = new MemoryProductStore();
  const stock = new StockLog(store);
  const view = new CatalogView(store);
  const catalog = new Catalog({ store, stock, view, now });
  const book = new ReservationBook(store, stock);
  const inventory = new Inventory({ store, book, view, reservationTtlMs: testReservationTtlMs, now });
  const routes = productRoutes(catalog, inventory);
  return {
    store,
    catalog,
    inventory,
    routes,
    products: createClient(
      ProductService,
      inMemoryTransport(routes, { allowedPeers: inventoryAllowedPeers }),
    ),
    stock: createClient(
      InventoryService,
      inMemoryTransport(routes, { allowedPeers: inventoryAllowedPeers, peer: "order" }),
    ),
    advance(ms) {
      offsetMs += ms;
    },
  };
}

/**
 * Call options that make a call come from the gateway on behalf of a user.
 *
 * @example
 * ```ts
 * await createProductFixture().products.getProduct({ id: "p-1" }, as("u-1")).catch(() => {});
 * ```
 */
export function as(id: string, role: "customer" | "admin" = "customer"): { headers: Record<string, string> } {
  return { headers: gatewayClaims({ sub: id, role }) };
}

/** Call options of the test admin. */
export const asAdmin: { headers: Record<string, string> } = as("admin-1", "admin");
