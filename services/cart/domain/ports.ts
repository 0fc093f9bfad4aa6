/**
 * What the cart's rules need from the world: a store of carts, the catalog, and the order service.
 *
 * @module
 */
import type { CartLine, CatalogProduct, StoredCart } from "./cart.ts";

/** Limits a store enforces atomically with a write. */
export interface LineLimits {
  maxLines: number;
  maxQuantity: number;
}

/** What a write did: done, or refused (nothing written) because of a limit. */
export type WriteOutcome =
  | { kind: "ok" }
  | { kind: "too_many_lines" }
  | { kind: "line_too_large"; current: number };

/** A checkout whose order was placed: its request id and the lines it ordered. */
export interface CheckoutRecord {
  requestId: string;
  lines: CartLine[];
}

/** Carts by customer id. Every write restarts the cart's lifetime; every write is atomic. */
export interface CartStore {
  /** The customer's cart (empty when there is none, or it expired). */
  get(customerId: string): Promise<StoredCart>;
  /** Adds units to a product's line, unless the line would exceed a limit. */
  add(customerId: string, line: CartLine, limits: LineLimits): Promise<WriteOutcome>;
  /** Sets a product's line (0 removes it), unless the cart would exceed a limit. */
  set(customerId: string, line: CartLine, limits: LineLimits): Promise<WriteOutcome>;
  /**
   * Removes the cart; given the checkout that emptied it, also records that checkout's lines under its
   * request id (for `CHECKOUT_MEMORY_MS`, a day), in the same atomic write.
   */
  clear(customerId: string, checkout?: CheckoutRecord): Promise<void>;
  /** The lines of a checkout recorded by {@linkcode clear}, or undefined (none, or forgotten). */
  checkedOut(customerId: string, requestId: string): Promise<CartLine[] | undefined>;
}

/** The catalog: products by id, as they are now. */
export interface Catalog {
  /** The product, or undefined when there is none. */
  product(id: string): Promise<CatalogProduct | undefined>;
}

/** What a checkout asks of the order service. */
export interface OrderRequest {
  requestId: string;
  items: CartLine[];
}

/** Where a placed order stands, as far as the cart cares. */
export type PlacedStatus = "paid" | "awaiting_payment" | "failed" | "other";

/** The order service, placing orders for a customer; `Order` is whatever it answers with. */
export interface OrderPlacer<Order, Details> {
  placeOrder(
    customerId: string,
    request: OrderRequest,
    details: Details,
  ): Promise<{ status: PlacedStatus; order: Order }>;
}
