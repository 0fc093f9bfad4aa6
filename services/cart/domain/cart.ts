/**
 * The cart's rules: one cart per customer, at most {@linkcode MAX_LINES} lines of at most
 * {@linkcode MAX_QUANTITY} units each, gone {@linkcode CART_LIFETIME_MS} after its last change; and the
 * view of a cart at the catalog's current names, prices and stock.
 *
 * @module
 */
import { type DomainError, invalidArgument } from "@shop/platform/errors";

/** The most lines a cart holds. */
export const MAX_LINES = 100;

/** The most units one line holds. */
export const MAX_QUANTITY = 100;

/** How long a cart lives after its last change: 30 days. */
export const CART_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * How long a checkout's lines are remembered under its request id after the cart was emptied, so that a
 * retry of that checkout (its answer lost) finds the same order instead of an empty cart: one day.
 */
export const CHECKOUT_MEMORY_MS = 24 * 60 * 60 * 1000;

/** One stored line: a product and how many units. */
export interface CartLine {
  productId: string;
  quantity: number;
}

/** A cart as stored: its lines in product id order, and when it last changed (undefined when empty). */
export interface StoredCart {
  lines: CartLine[];
  updateTime: Date | undefined;
}

/** An amount of money in a currency's minor unit. */
export interface Money {
  currencyCode: string;
  amountMinor: bigint;
}

/** A product as the catalog has it now. */
export interface CatalogProduct {
  id: string;
  name: string;
  price: Money;
  stock: number;
}

/** A line as the customer sees it: the product's current name, price and stock state. */
export interface CartItemView extends CartLine {
  /** Empty when the product is gone. */
  name: string;
  /** Undefined when the product is gone. */
  unitPrice: Money | undefined;
  /** False when the product is gone or has fewer units in stock than the line asks for. */
  available: boolean;
}

/** A cart as the customer sees it. */
export interface CartView {
  items: CartItemView[];
  /** The sum of the available lines (currency of the first priced line; USD for none). */
  subtotal: Money;
  updateTime: Date | undefined;
}

/**
 * The view of a cart, given the catalog's products by id (a product missing from the map is gone).
 *
 * @example
 * ```ts
 * const view = viewOf({ lines: [{ productId: "p-1", quantity: 2 }], updateTime: new Date() }, new Map());
 * view.items[0]?.available; // false: p-1 is gone
 * ```
 */
export function viewOf(cart: StoredCart, products: ReadonlyMap<string, CatalogProduct>): CartView {
  const items = cart.lines.map((line): CartItemView => {
    const product = products.get(line.productId);
    if (!product) return { ...line, name: "", unitPrice: undefined, available: false };
    return {
      ...line,
      name: product.name,
      unitPrice: product.price,
      available: product.stock >= line.quantity,
    };
  });
  const currencyCode = items.find((item) => item.unitPrice)?.unitPrice?.currencyCode ?? "USD";
  let amountMinor = 0n;
  for (const item of items) {
    if (item.available && item.unitPrice?.currencyCode === currencyCode) {
      amountMinor += item.unitPrice.amountMinor * BigInt(item.quantity);
    }
  }
  return { items, subtotal: { currencyCode, amountMinor }, updateTime: cart.updateTime };
}

/**
 * Checks a quantity to add (1 to the cap) or to set (0 to the cap): INVALID_ARGUMENT naming `quantity`.
 *
 * @example
 * ```ts
 * checkQuantity(3, 1); // fine
 * checkQuantity(0, 1); // throws INVALID_ARGUMENT on quantity
 * ```
 */
export function checkQuantity(quantity: number, least: 0 | 1): void {
  if (!Number.isInteger(quantity) || quantity < least || quantity > MAX_QUANTITY) {
    throw invalidArgument([{
      field: "quantity",
      description: `must be between ${least} and ${MAX_QUANTITY}`,
    }]);
  }
}

/**
 * A line would hold more than {@linkcode MAX_QUANTITY} units: INVALID_ARGUMENT naming `quantity`.
 *
 * @example
 * ```ts
 * throw lineTooLarge(98);
 * ```
 */
export function lineTooLarge(current: number): DomainError {
  return invalidArgument([{
    field: "quantity",
    description: `the line holds ${current} units; a line may hold at most ${MAX_QUANTITY}`,
  }]);
}

/**
 * The cart holds {@linkcode MAX_LINES} lines already: INVALID_ARGUMENT naming `product_id`.
 *
 * @example
 * ```ts
 * throw tooManyLines();
 * ```
 */
export function tooManyLines(): DomainError {
  return invalidArgument([{
    field: "product_id",
    description: `the cart holds ${MAX_LINES} lines already, the most it may hold`,
  }]);
}

/**
 * No such product in the catalog: INVALID_ARGUMENT naming `product_id`.
 *
 * @example
 * ```ts
 * throw unknownProduct("p-1");
 * ```
 */
export function unknownProduct(productId: string): DomainError {
  return invalidArgument([{ field: "product_id", description: `no product ${productId}` }]);
}
