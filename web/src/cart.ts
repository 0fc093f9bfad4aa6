/**
 * The cart. A signed-in customer's cart lives in the cart service (`shop.cart.v1`, one per account, read
 * at the catalog's current names, prices and stock); a visitor who has not signed in keeps one in the
 * browser (`localStorage`), which is merged into the account's cart at sign-in and then forgotten.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Cart as CartProto } from "@shop/proto/cart";
import { api, isSignedIn, onSessionChange, type Problem, problemOf } from "./api.ts";

/** One line of the cart. */
export interface CartLine {
  productId: string;
  name: string;
  /** Minor units, as a decimal string (bigint does not survive JSON). */
  unitPriceMinor: string;
  currencyCode: string;
  quantity: number;
  /** False when the product is gone or out of stock (the account's cart says so; the browser's cannot). */
  available: boolean;
}

/** The cart as the page shows it. */
export interface CartView {
  lines: CartLine[];
  /** Where it is kept: in this browser (not signed in) or in the account. */
  keptIn: "browser" | "account";
  /** The account's subtotal at current prices (the cart service's); the browser's adds up its lines. */
  subtotal: { currencyCode: string; amountMinor: bigint };
  /** True while the account's cart is being read (after sign-in or a reload). */
  loading: boolean;
  /** What went wrong reading or merging the account's cart, if anything. */
  problem?: Problem;
}

const key = "shop.cart";

/** The account's cart as last read or written; undefined until read (and when signed out). */
let accountLines: CartLine[] | undefined;
let accountSubtotal: CartView["subtotal"] | undefined;
let accountProblem: Problem | undefined;
/** How many answers of writes (add, set) were kept: a read that began before one is stale. */
let writes = 0;
/** The one read (and merge) in flight, shared by everyone who asks. */
let syncing: Promise<void> | undefined;

function changed(): void {
  dispatchEvent(new Event("shop-cart"));
}

function readBrowserCart(): CartLine[] {
  try {
    const lines: unknown = JSON.parse(localStorage.getItem(key) ?? "[]");
    return Array.isArray(lines) ? (lines as CartLine[]).map((line) => ({ ...line, available: true })) : [];
  } catch {
    return [];
  }
}

function writeBrowserCart(lines: CartLine[]): void {
  const kept = lines.filter((line) => line.quantity > 0);
  if (kept.length === 0) localStorage.removeItem(key);
  else localStorage.setItem(key, JSON.stringify(kept));
  changed();
}

function linesOf(cart: CartProto | undefined): CartLine[] {
  return (cart?.items ?? []).map((item) => ({
    productId: item.productId,
    name: item.name,
    unitPriceMinor: (item.unitPrice?.amountMinor ?? 0n).toString(),
    currencyCode: item.unitPrice?.currencyCode ?? "USD",
    quantity: item.quantity,
    available: item.available,
  }));
}

function keepAccountCart(cart: CartProto | undefined): void {
  accountLines = linesOf(cart);
  accountSubtotal = cart?.subtotal === undefined
    ? undefined
    : { currencyCode: cart.subtotal.currencyCode, amountMinor: cart.subtotal.amountMinor };
  accountProblem = undefined;
  changed();
}

/** Errors after which a line may not have arrived: it stays in the browser for the next try. */
const sendAgain = [Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.Unauthenticated];

/**
 * Moves the browser's lines into the account's cart (each added to the account's line of that product),
 * then reads the account's cart. A line the account's cart refuses (a product that is gone, a line past
 * its cap) is dropped with a note; a line that could not be sent (the network) stays in the browser for
 * the next sign-in.
 */
async function mergeAndRead(): Promise<void> {
  const kept: CartLine[] = [];
  const notes: string[] = [];
  for (const line of readBrowserCart()) {
    try {
      await api.cart.addItem({ productId: line.productId, quantity: line.quantity });
    } catch (error) {
      if (!(error instanceof ConnectError) || sendAgain.includes(error.code)) kept.push(line);
      else notes.push(`${line.name}: ${problemOf(error).message}`);
    }
  }
  writeBrowserCart(kept);
  const before = writes;
  const { cart } = await api.cart.getCart({});
  // An add or a change answered meanwhile showed a newer cart than this read: keep that one.
  if (writes === before || accountLines === undefined) keepAccountCart(cart);
  if (notes.length > 0) {
    accountProblem = { message: `Not moved into your account's cart: ${notes.join("; ")}` };
    changed();
  }
}

/**
 * Reads the account's cart (merging the browser's into it first), once for everyone asking now.
 *
 * @example
 * ```ts ignore
 * await syncAccountCart(); // after sign-in
 * ```
 */
export function syncAccountCart(): Promise<void> {
  syncing ??= mergeAndRead().catch((error) => {
    accountProblem = problemOf(error);
    changed();
  }).finally(() => {
    syncing = undefined;
  });
  return syncing;
}

// A sign-in (or a silent one on load) brings the account's cart, with the browser's merged into it;
// a sign-out forgets it (the browser's own cart was emptied at sign-in).
onSessionChange(() => {
  if (!isSignedIn()) {
    accountLines = undefined;
    accountSubtotal = undefined;
    accountProblem = undefined;
    changed();
  } else if (accountLines === undefined || readBrowserCart().length > 0) {
    void syncAccountCart();
  }
});

function sumOf(lines: readonly CartLine[]): CartView["subtotal"] {
  return {
    currencyCode: lines[0]?.currencyCode ?? "USD",
    amountMinor: lines.reduce((sum, line) => sum + BigInt(line.unitPriceMinor) * BigInt(line.quantity), 0n),
  };
}

/**
 * The cart the page shows now: the account's when signed in, else the browser's.
 *
 * @example
 * ```ts ignore
 * const count = currentCart().lines.reduce((sum, line) => sum + line.quantity, 0);
 * ```
 */
export function currentCart(): CartView {
  if (!isSignedIn()) {
    const lines = readBrowserCart();
    return { lines, subtotal: sumOf(lines), keptIn: "browser", loading: false };
  }
  const lines = accountLines ?? [];
  return {
    lines,
    subtotal: accountSubtotal ?? sumOf(lines),
    keptIn: "account",
    loading: accountLines === undefined && accountProblem === undefined,
    ...(accountProblem === undefined ? {} : { problem: accountProblem }),
  };
}

/**
 * Adds units of a product to its line (in the account's cart when signed in).
 *
 * @example
 * ```ts ignore
 * await addToCart({ productId: "p1", name: "Mug", unitPriceMinor: "1200", currencyCode: "USD" }, 1);
 * ```
 */
export async function addToCart(
  product: Omit<CartLine, "quantity" | "available">,
  quantity: number,
): Promise<void> {
  if (isSignedIn()) {
    const { cart } = await api.cart.addItem({ productId: product.productId, quantity });
    writes++;
    keepAccountCart(cart);
    return;
  }
  const lines = readBrowserCart();
  const line = lines.find((l) => l.productId === product.productId);
  if (line === undefined) lines.push({ ...product, quantity, available: true });
  else line.quantity += quantity;
  writeBrowserCart(lines);
}

/**
 * Sets the units of a product's line; 0 removes it.
 *
 * @example
 * ```ts ignore
 * await setCartQuantity("p1", 0);
 * ```
 */
export async function setCartQuantity(productId: string, quantity: number): Promise<void> {
  if (isSignedIn()) {
    const { cart } = await api.cart.setQuantity({ productId, quantity });
    writes++;
    keepAccountCart(cart);
    return;
  }
  writeBrowserCart(
    readBrowserCart().map((line) => line.productId === productId ? { ...line, quantity } : line),
  );
}

/**
 * Tells the page the account's cart as the cart service now has it (after a checkout, which empties it
 * when the order is paid or awaiting payment and keeps it when the order failed).
 *
 * @example
 * ```ts ignore
 * await reloadAccountCart();
 * ```
 */
export async function reloadAccountCart(): Promise<void> {
  keepAccountCart((await api.cart.getCart({})).cart);
}
