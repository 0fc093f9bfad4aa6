/**
 * Orders and their life: what an order is, and which status changes are allowed. The aggregate owns
 * its transitions and refuses illegal ones (naming both states), so no handler can skip a step.
 *
 * @module
 */
import { DomainError } from "@shop/platform/errors";

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

/** One line, with the name and unit price copied from the catalog when the stock was reserved. */
export interface OrderItem {
  productId: string;
  quantity: number;
  /** Empty until the stock is reserved. */
  name: string;
  /** Undefined until the stock is reserved. */
  unitPrice: Money | undefined;
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

/** An order. */
export interface Order {
  id: string;
  userId: string;
  /** The client's idempotency key: one order per (user, request id). */
  requestId: string;
  items: OrderItem[];
  /** Undefined until the stock is reserved and the lines are priced. */
  total: Money | undefined;
  status: OrderStatus;
  statusHistory: StatusChange[];
  failureReason: string;
  shippingAddress: ShippingAddress;
  /** A Stripe PaymentMethod id. */
  paymentMethod: string;
  createTime: Date;
  updateTime: Date;
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
export function transition(order: Order, to: OrderStatus, reason: string, now: Date): Order {
  if (!canTransition(order.status, to)) {
    throw new DomainError(
      "failed_precondition",
      "INVALID_STATE",
      `an order that is ${order.status.toUpperCase()} cannot become ${to.toUpperCase()}`,
      { metadata: { order_id: order.id, from: order.status, to } },
    );
  }
  return {
    ...order,
    status: to,
    failureReason: to === "failed" ? reason : order.failureReason,
    statusHistory: [...order.statusHistory, { status: to, reason, time: now }],
    updateTime: now,
  };
}

/**
 * The sum of priced lines; all must share one currency.
 *
 * @example
 * ```ts
 * orderTotal([{ productId: "p", quantity: 2, name: "Kettle", unitPrice: { currencyCode: "USD", amountMinor: 1999n } }]);
 * // { currencyCode: "USD", amountMinor: 3998n }
 * ```
 */
export function orderTotal(items: readonly OrderItem[]): Money {
  const currencies = new Set(items.map((item) => item.unitPrice?.currencyCode));
  const [currency] = currencies;
  if (currencies.size !== 1 || currency === undefined) {
    throw new DomainError(
      "failed_precondition",
      "INVALID_STATE",
      "the items of one order must share a currency",
    );
  }
  let amountMinor = 0n;
  for (const item of items) amountMinor += (item.unitPrice?.amountMinor ?? 0n) * BigInt(item.quantity);
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
