import type { ConnectRouter } from "@connectrpc/connect";
import { requireAdmin } from "@shop/platform/auth";
import { serviceLogger } from "@shop/platform/log";
import { decodeTimeCursor, encodeTimeCursor, pageSizeOf } from "@shop/platform/paging";
import { InventoryService, ProductService } from "@shop/proto/product";
import type { Catalog, ListQuery } from "../domain/catalog.ts";
import type { Inventory } from "../domain/inventory.ts";
import { productInputOf, toProductProto, toReservationProto } from "./mapping.ts";

/**
 * Who may call what: the inventory is internal to the order saga, identified by its certificate.
 *
 * @example
 * ```ts
 * inventoryAllowedPeers["shop.product.v1.InventoryService"]; // ["order"]
 * ```
 */
export const inventoryAllowedPeers: Readonly<Record<string, readonly string[]>> = {
  [InventoryService.typeName]: ["order"],
};

/** FNV-1a over the filters: short, and enough to notice a token reused with other filters. */
function fingerprint(query: ListQuery): string {
  const text = JSON.stringify([
    query.category,
    String(query.minPriceMinor),
    String(query.maxPriceMinor),
    query.query,
  ]);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

/**
 * The product service's Connect handlers: `shop.product.v1.ProductService` (public: reads for anyone,
 * writes for admins) and `shop.product.v1.InventoryService` (internal: serve it with
 * {@linkcode inventoryAllowedPeers}).
 *
 * @example
 * ```ts
 * import { inMemoryTransport } from "@shop/platform/server";
 * declare const catalog: Catalog;
 * declare const inventory: Inventory;
 * const transport = inMemoryTransport(productRoutes(catalog, inventory), { allowedPeers: inventoryAllowedPeers });
 * ```
 */
export function productRoutes(catalog: Catalog, inventory: Inventory): (router: ConnectRouter) => void {
  const log = serviceLogger("inventory");
  return (router) => {
    router.service(ProductService, {
      async listProducts(request) {
        const query: ListQuery = {
          category: request.category,
          minPriceMinor: request.minPriceMinor,
          maxPriceMinor: request.maxPriceMinor,
          query: request.query,
        };
        const filters = fingerprint(query);
        const cursor = decodeTimeCursor(request.pageToken, filters);
        const page = await catalog.list(
          query,
          pageSizeOf(request.pageSize),
          cursor,
        );
        return {
          products: page.products.map(toProductProto),
          nextPageToken: encodeTimeCursor(page.next, filters),
        };
      },
      async getProduct(request) {
        return { product: toProductProto(await catalog.get(request.id)) };
      },
      async createProduct(request, ctx) {
        const admin = requireAdmin(ctx);
        const product = await catalog.create(admin.id, productInputOf(request.product), request.requestId);
        return { product: toProductProto(product) };
      },
      async updateProduct(request, ctx) {
        requireAdmin(ctx);
        const product = await catalog.update(
          request.product?.id ?? "",
          request.updateMask?.paths ?? [],
          productInputOf(request.product),
        );
        return { product: toProductProto(product) };
      },
      async deleteProduct(request, ctx) {
        requireAdmin(ctx);
        await catalog.delete(request.id);
        return {};
      },
    });
    router.service(InventoryService, {
      async reserveStock(request) {
        const reservation = await inventory.reserve(request.orderId, request.items);
        return { reservation: toReservationProto(reservation) };
      },
      async commitReservation(request) {
        return { reservation: toReservationProto(await inventory.commit(request.orderId)) };
      },
      async releaseReservation(request) {
        const reservation = await inventory.release(request.orderId);
        log.info("Released the reservation of order {orderId} ({reason})", {
          orderId: request.orderId,
          reason: request.reason || "no reason given",
        });
        return { reservation: toReservationProto(reservation) };
      },
    });
  };
}
