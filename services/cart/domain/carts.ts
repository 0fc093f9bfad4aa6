/**
 * The cart's use cases: read, add, set, clear and check out the signed-in customer's own cart.
 *
 * @module
 */
import { DomainError } from "@shop/platform/errors";
import {
  type CartLine,
  type CartView,
  type CatalogProduct,
  checkQuantity,
  lineTooLarge,
  MAX_LINES,
  MAX_QUANTITY,
  tooManyLines,
  unknownProduct,
  viewOf,
} from "./cart.ts";
import type { CartStore, Catalog, OrderPlacer, WriteOutcome } from "./ports.ts";

const limits = { maxLines: MAX_LINES, maxQuantity: MAX_QUANTITY };

/**
 * Carts of signed-in customers. Every method takes the customer's id from the verified caller, so no
 * other customer's cart is reachable.
 *
 * @example
 * ```ts ignore
 * const carts = new Carts({ store, catalog, orders });
 * await carts.add("u-1", { productId: "p-1", quantity: 2 });
 * const view = await carts.view("u-1");
 * ```
 */
export class Carts<Order, Details> {
  readonly #store: CartStore;
  readonly #catalog: Catalog;
  readonly #orders: OrderPlacer<Order, Details>;

  /** Builds the use cases on a store, the catalog and the order service. */
  constructor(deps: { store: CartStore; catalog: Catalog; orders: OrderPlacer<Order, Details> }) {
    this.#store = deps.store;
    this.#catalog = deps.catalog;
    this.#orders = deps.orders;
  }

  /** The customer's cart at the catalog's current names, prices and stock. */
  async view(customerId: string): Promise<CartView> {
    return await this.#viewWith(customerId, new Map());
  }

  /** Adds units to a product's line; INVALID_ARGUMENT (nothing written) for bad input or a limit. */
  async add(customerId: string, line: CartLine): Promise<CartView> {
    checkQuantity(line.quantity, 1);
    const product = await this.#requireProduct(line.productId);
    refuse(await this.#store.add(customerId, line, limits));
    return await this.#viewWith(customerId, new Map([[product.id, product]]));
  }

  /** Sets a product's line; 0 removes it. INVALID_ARGUMENT (nothing written) for bad input or a limit. */
  async setQuantity(customerId: string, line: CartLine): Promise<CartView> {
    checkQuantity(line.quantity, 0);
    const known = new Map<string, CatalogProduct>();
    if (line.quantity > 0) {
      const product = await this.#requireProduct(line.productId);
      known.set(product.id, product);
    }
    refuse(await this.#store.set(customerId, line, limits));
    return await this.#viewWith(customerId, known);
  }

  /** The cart with the products of `known` as just read (in this call), the others read now. */
  async #viewWith(customerId: string, known: ReadonlyMap<string, CatalogProduct>): Promise<CartView> {
    const cart = await this.#store.get(customerId);
    const found = await Promise.all(
      cart.lines.map((line) => known.get(line.productId) ?? this.#catalog.product(line.productId)),
    );
    const products = new Map<string, CatalogProduct>();
    for (const product of found) if (product) products.set(product.id, product);
    return viewOf(cart, products);
  }

  /** Empties the cart. */
  async clear(customerId: string): Promise<void> {
    await this.#store.clear(customerId);
  }

  /**
   * Places an order of the cart's lines with the caller's request id (the order service makes a repeated
   * request id return the same order). Empties the cart once the order is paid or awaits payment,
   * remembering that checkout's lines for a day, so that a retry of it answers the same order even though
   * the cart is empty (or filled again) by then; any other outcome leaves the cart. FAILED_PRECONDITION for
   * an empty cart.
   */
  async checkout(customerId: string, requestId: string, details: Details): Promise<Order> {
    // A retry of a checkout that emptied the cart (its answer lost): the same lines and request id, so the
    // order service answers with the order already placed; the cart, maybe filled again since, stays.
    const done = await this.#store.checkedOut(customerId, requestId);
    if (done) return (await this.#orders.placeOrder(customerId, { requestId, items: done }, details)).order;
    const { lines } = await this.#store.get(customerId);
    if (lines.length === 0) {
      throw new DomainError("failed_precondition", "INVALID_STATE", "the cart is empty; add items first");
    }
    const placed = await this.#orders.placeOrder(customerId, { requestId, items: lines }, details);
    if (placed.status === "paid" || placed.status === "awaiting_payment") {
      await this.#store.clear(customerId, { requestId, lines });
    }
    return placed.order;
  }

  async #requireProduct(productId: string): Promise<CatalogProduct> {
    const product = await this.#catalog.product(productId);
    if (!product) throw unknownProduct(productId);
    return product;
  }
}

function refuse(outcome: WriteOutcome): void {
  if (outcome.kind === "too_many_lines") throw tooManyLines();
  if (outcome.kind === "line_too_large") throw lineTooLarge(outcome.current);
}
