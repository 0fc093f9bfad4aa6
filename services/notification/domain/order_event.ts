/**
 * An order event as the notification service reads it (the order service's `shop.order.v1.OrderEvent`,
 * mapped by the transport), and the customer it is about.
 *
 * @module
 */

/** An amount in a currency's minor unit. */
export interface Money {
  currencyCode: string;
  amountMinor: bigint;
}

/** The statuses an event may announce. */
export type AnnouncedStatus =
  | "pending"
  | "awaiting_payment"
  | "paid"
  | "shipped"
  | "delivered"
  | "failed"
  | "cancelled";

/** One line of the order. */
export interface OrderLine {
  name: string;
  quantity: number;
  /** Unset when the order failed before it was priced. */
  unitPrice: Money | undefined;
}

/** What happened to an order, and the order as it stood. */
export interface OrderEvent {
  /** Unique per event, the same on every delivery: the key of idempotence. */
  id: string;
  orderId: string;
  userId: string;
  sequence: number;
  type: "status_changed" | "refunded";
  time: Date;
  status: AnnouncedStatus;
  reason: string;
  lines: OrderLine[];
  total: Money | undefined;
  shipTo: { name: string; line1: string; line2: string; city: string; postalCode: string; country: string };
  /** Set on `refunded`. */
  refunded: Money | undefined;
}

/** Where a customer's email goes. */
export interface CustomerContact {
  email: string;
  displayName: string;
}
