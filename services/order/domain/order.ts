/**
 * Orders and their life: what an order is, and which status changes are allowed. The aggregate owns
 * its transitions and refuses illegal ones (naming both states), so no handler can skip a step. An order
 * is placed unpriced (what the customer asked for) and becomes priced when its stock is reserved: the
 * two are different types, so nothing can charge an order that has no total.
 *
 * @module
 */
import { illegalTransition, mixedCurrencies, unpricedItem } from "./errors.ts";

/** Where an order is in its life. */
export type OrderStatus =
  | "pending"
  /** The payment processor accepted the charge but has not captured it yet; the stock is held. */
  | "awaiting_payment"
  | "paid"
  | "shipped"
  | "delivered"
  | "failed"
  | "cancelled";

/** An amount in a currency's minor unit. */
export interface Money {
  currencyCode: string;
  amountMinor: bigint;
}

/** One line as the customer asked for it. */
export interface RequestedItem {
  productId: string;
  quantity: number;
}

/** One line with the name and unit price copied from the catalog when the stock was reserved. */
export interface PricedItem extends RequestedItem {
  name: string;
  unitPrice: Money;
}

/** One step of an order's life. */
export interface StatusChange {
  status: OrderStatus;
  reason: string;
  time: Date;
}

/** Where a shipping label goes. */
export interface ShippingAddress {
  name: string;
  line1: string;
  line2: string;
  city: string;
  postalCode: string;
  country: string;
}

/** What every order has, priced or not. */
interface OrderFields {
  id: string;
  userId: string;
  /** The client's idempotency key: one order per (user, request id). */
  requestId: string;
  status: OrderStatus;
  statusHistory: StatusChange[];
  failureReason: string;
  shippingAddress: ShippingAddress;
  /** A Stripe PaymentMethod id. */
  paymentMethod: string;
  createTime: Date;
  updateTime: Date;
}

/** An order whose stock is not reserved yet: no prices, no total. */
export interface UnpricedOrder extends OrderFields {
  items: RequestedItem[];
  total: undefined;
}

/** An order priced from the catalog when its stock was reserved. */
export interface PricedOrder extends OrderFields {
  items: PricedItem[];
  total: Money;
}

/** An order. */
export type Order = UnpricedOrder | PricedOrder;

/**
 * The name of a status as customers and the API spell it.
 *
 * @example
 * ```ts
 * statusName("awaiting_payment"); // "AWAITING_PAYMENT"
 * ```
 */
export function statusName(status: OrderStatus): string {
  return status.toUpperCase();
}

const allowed: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ["awaiting_payment", "paid", "failed", "cancelled"],
  // Not cancellable while the money is in flight: the payment's outcome decides (PAID or FAILED).
  awaiting_payment: ["paid", "failed"],
  paid: ["shipped", "cancelled"],
  shipped: ["delivered"],
  delivered: [],
  failed: [],
  cancelled: [],
};

/**
 * Whether an order in `from` may move to `to`.
 *
 * @example
 * ```ts
 * canTransition("paid", "shipped"); // true
 * canTransition("shipped", "cancelled"); // false
 * ```
 */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return allowed[from].includes(to);
}

/**
 * The order moved to `to`, with the change in its history; FAILED_PRECONDITION naming both states when
 * the move is not allowed.
 *
 * @example
 * ```ts
 * declare const order: Order;
 * const shipped = transition(order, "shipped", "handed to the carrier", new Date());
 * ```
 */
export function transition<T extends Order>(order: T, to: OrderStatus, reason: string, now: Date): T {
  if (!canTransition(order.status, to)) throw illegalTransition(order.id, order.status, to);
  return {
    ...order,
    status: to,
    failureReason: to === "failed" ? reason : order.failureReason,
    statusHistory: [...order.statusHistory, { status: to, reason, time: now }],
    updateTime: now,
  };
}

/**
 * The order priced from the inventory's answer: every line gets the catalog's name and unit price, and
 * the total is their sum. A line the answer does not price, or lines in more than one currency, are
 * FAILED_PRECONDITION: such an order cannot be charged.
 *
 * @example
 * ```ts
 * declare const order: UnpricedOrder;
 * const priced = price(order, [{ productId: "p-1", quantity: 2, name: "Kettle", unitPrice: { currencyCode: "USD", amountMinor: 1999n } }]);
 * priced.total; // { currencyCode: "USD", amountMinor: 3998n }
 * ```
 */
export function price<T extends UnpricedOrder>(
  order: T,
  lines: readonly PricedItem[],
): Omit<T, "items" | "total"> & PricedOrder {
  const byProduct = new Map(lines.map((line) => [line.productId, line]));
  const items = order.items.map((item): PricedItem => {
    const line = byProduct.get(item.productId);
    if (!line) throw unpricedItem(order.id, item.productId);
    return { ...item, name: line.name, unitPrice: { ...line.unitPrice } };
  });
  return { ...order, items, total: orderTotal(order.id, items) };
}

/** The sum of priced lines, which must share one currency. */
function orderTotal(orderId: string, items: readonly PricedItem[]): Money {
  const currencies = new Set(items.map((item) => item.unitPrice.currencyCode));
  const [currency] = currencies;
  if (currencies.size !== 1 || currency === undefined) throw mixedCurrencies(orderId);
  let amountMinor = 0n;
  for (const item of items) amountMinor += item.unitPrice.amountMinor * BigInt(item.quantity);
  return { currencyCode: currency, amountMinor };
}

/**
 * Whether a user may see and act on an order: its owner, or an admin.
 *
 * @example
 * ```ts
 * declare const order: Order;
 * mayAccess(order, { id: order.userId, role: "customer" }); // true
 * ```
 */
export function mayAccess(order: Order, user: { id: string; role: "admin" | "customer" }): boolean {
  return user.role === "admin" || order.userId === user.id;
}
