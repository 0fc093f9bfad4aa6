/**
 * The events an order announces: every change of its status (but the first, PENDING, which the
 * customer's own request made) and every refund its compensation made. They are written to the order
 * store's outbox in the same transaction as the change (`OrderStore.saveProgress`), numbered per order,
 * and relayed at least once, in that order, to whoever must hear them (the notification service).
 *
 * @module
 */
import type { Money, Order, OrderStatus } from "./order.ts";

/** What happened to an order. */
export type OrderEventType =
  /** Its status changed to the event's `status`. */
  | "status_changed"
  /** Money its payment captured went back to the customer (`refunded`). */
  | "refunded";

/** An event as the saga writes it, before the store numbers it. */
export interface OrderEventDraft {
  /** Unique per event: receivers are idempotent by it. */
  id: string;
  orderId: string;
  type: OrderEventType;
  time: Date;
  /** The order's status after the change. */
  status: OrderStatus;
  /** Why, in words a customer can read. */
  reason: string;
  /** Set on `refunded`. */
  refunded: Money | undefined;
}

/** An event in the outbox, numbered and with what the relay needs. */
export interface OrderEvent extends OrderEventDraft {
  /** 1, 2, 3... per order, in the order the changes happened. */
  sequence: number;
  /** The order as it stands now (items, total and address do not change once it is priced). */
  order: Order;
  /** How many deliveries failed so far. */
  attempts: number;
}

/**
 * The status changes of `order` not announced yet, as drafts, and how many of its history's entries are
 * announced once they are written. PENDING, the status every order starts in, is never announced.
 *
 * @example
 * ```ts
 * declare const order: Order & { announcedChanges: number };
 * const { drafts, announcedChanges } = statusEvents(order, () => crypto.randomUUID());
 * ```
 */
export function statusEvents(
  order: Order & { announcedChanges: number },
  newId: () => string,
): { drafts: OrderEventDraft[]; announcedChanges: number } {
  const drafts = order.statusHistory.slice(order.announcedChanges)
    .filter((change) => change.status !== "pending")
    .map((change): OrderEventDraft => ({
      id: newId(),
      orderId: order.id,
      type: "status_changed",
      time: change.time,
      status: change.status,
      reason: change.reason,
      refunded: undefined,
    }));
  return { drafts, announcedChanges: order.statusHistory.length };
}

/**
 * The id of the event announcing that an order's payment has refunded `refunded` in all: the same for
 * the same order and total, so that a compensation that runs again (a payment's outcome repeated after
 * the order was cancelled and refunded, a process that died before it stored its progress), which
 * refunds nothing more, announces nothing more (the stores keep an event id once).
 *
 * @example
 * ```ts
 * const money = { currencyCode: "USD", amountMinor: 1200n };
 * const id = await refundEventId("7f1c9a52-5e0e-4d8b-9a57-0c2b8f1d3e44", money);
 * id === await refundEventId("7f1c9a52-5e0e-4d8b-9a57-0c2b8f1d3e44", money); // true
 * ```
 */
export async function refundEventId(orderId: string, refunded: Money): Promise<string> {
  const name = `${orderId} refunded ${refunded.currencyCode} ${refunded.amountMinor}`;
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(name))).slice(
    0,
    16,
  );
  // An RFC 9562 UUID of version 8 (custom: a name-based one over SHA-256).
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The event of a refund the order's compensation made, or none when nothing went back.
 *
 * @example
 * ```ts
 * declare const order: Order;
 * refundEvent(order, { currencyCode: "USD", amountMinor: 0n }, new Date(), "x"); // undefined
 * ```
 */
export function refundEvent(
  order: Order,
  refunded: Money | undefined,
  now: Date,
  id: string,
): OrderEventDraft | undefined {
  if (!refunded || refunded.amountMinor <= 0n) return undefined;
  return {
    id,
    orderId: order.id,
    type: "refunded",
    time: now,
    status: order.status,
    reason: order.status === "cancelled" ? "order cancelled" : "order could not be completed",
    refunded,
  };
}
