/**
 * The cart, kept in the browser (`localStorage`) until the cart service exists: each line remembers the
 * name and price it was added with only for display; the order service prices every order itself.
 *
 * @module
 */

/** One line of the cart. */
export interface CartLine {
  productId: string;
  name: string;
  /** Minor units, as a decimal string (bigint does not survive JSON). */
  unitPriceMinor: string;
  currencyCode: string;
  quantity: number;
}

const key = "shop.cart";

/**
 * The lines in the cart.
 *
 * @example
 * ```ts ignore
 * const count = readCart().reduce((sum, line) => sum + line.quantity, 0);
 * ```
 */
export function readCart(): CartLine[] {
  try {
    const lines: unknown = JSON.parse(localStorage.getItem(key) ?? "[]");
    return Array.isArray(lines) ? lines as CartLine[] : [];
  } catch {
    return [];
  }
}

/**
 * Replaces the cart (lines with quantity 0 are dropped) and tells the page.
 *
 * @example
 * ```ts ignore
 * writeCart([]); // empties it
 * ```
 */
export function writeCart(lines: CartLine[]): void {
  localStorage.setItem(key, JSON.stringify(lines.filter((line) => line.quantity > 0)));
  dispatchEvent(new Event("shop-cart"));
}

/**
 * Adds units of a product to its line.
 *
 * @example
 * ```ts ignore
 * addToCart({ productId: "p1", name: "Mug", unitPriceMinor: "1200", currencyCode: "USD" }, 1);
 * ```
 */
export function addToCart(product: Omit<CartLine, "quantity">, quantity: number): void {
  const lines = readCart();
  const line = lines.find((l) => l.productId === product.productId);
  if (line === undefined) lines.push({ ...product, quantity });
  else line.quantity += quantity;
  writeCart(lines);
}
