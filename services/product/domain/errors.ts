/**
 * The catalog's and the inventory's failures, as the caller sees them.
 *
 * @module
 */
import { DomainError } from "@shop/platform/errors";

/**
 * Not enough stock for some items of an order: FAILED_PRECONDITION, reason OUT_OF_STOCK, metadata
 * `product_ids` (comma-separated) naming every short product.
 *
 * @example
 * ```ts
 * throw outOfStock(["p-1", "p-2"]);
 * ```
 */
export function outOfStock(productIds: readonly string[]): DomainError {
  return new DomainError(
    "failed_precondition",
    "OUT_OF_STOCK",
    `not enough stock for product${productIds.length === 1 ? "" : "s"} ${productIds.join(", ")}`,
    { metadata: { product_ids: productIds.join(",") } },
  );
}

/**
 * A reservation in a state that does not allow the change (committing an expired one, say).
 *
 * @example
 * ```ts
 * throw invalidReservationState("o-1", "expired", "commit");
 * ```
 */
export function invalidReservationState(orderId: string, status: string, action: string): DomainError {
  return new DomainError(
    "failed_precondition",
    "INVALID_STATE",
    `cannot ${action} the reservation of order ${orderId}: it is ${status}`,
    { metadata: { order_id: orderId, status } },
  );
}

/**
 * The SKU belongs to another product already.
 *
 * @example
 * ```ts
 * throw skuTaken("BK-1");
 * ```
 */
export function skuTaken(sku: string): DomainError {
  return new DomainError("already_exists", "ALREADY_EXISTS", `a product with SKU ${sku} exists already`, {
    metadata: { sku },
  });
}

/**
 * Too many writers changed one product's stock at the same moment for this call to get its turn; safe
 * to retry (every inventory call is idempotent by order id).
 *
 * @example
 * ```ts
 * throw stockContention("p-1");
 * ```
 */
export function stockContention(productId: string): DomainError {
  return new DomainError(
    "unavailable",
    "DEPENDENCY_UNAVAILABLE",
    `stock of product ${productId} is changing too fast; retry`,
    { metadata: { product_id: productId }, retryAfterMs: 200 },
  );
}
