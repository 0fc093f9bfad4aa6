/**
 * What the checkout needs from the outside world, owned here: the order store, the inventory (product
 * service) and the payments (payment service). Adapters implement these; the rules never see a driver
 * or a generated type.
 *
 * @module
 */
import type { Money, Order, PricedItem, RequestedItem } from "./order.ts";
import type { OrderEvent, OrderEventDraft } from "./order_events.ts";

/** The next thing the checkout saga must do for an order; persisted with it, so a restart resumes. */
export type SagaStep =
  /** Reserve the stock (idempotent by order id). */
  | "reserve"
  /** Charge the payment (idempotent by order id). */
  | "charge"
  /** Commit the reservation (idempotent by order id). */
  | "commit"
  /**
   * Wait for the outcome of a charge the payment processor is still processing: the stock is committed,
   * and the payment service's notice finishes the saga (PAID) or turns it to compensation (FAILED).
   * Nothing drives it meanwhile, the recovery loop included.
   */
  | "await_payment"
  /** Undo: release the stock, and refund if a charge was attempted. Both idempotent. */
  | "compensate"
  /** Nothing left to do. */
  | "done";

/** Where an order's saga stands, stored with the order. */
export interface SagaState {
  sagaStep: SagaStep;
  /** True from the moment a charge may have been sent: compensation must then refund. */
  chargeAttempted: boolean;
  /** How many entries of the status history have their event in the outbox (`order_events.ts`). */
  announcedChanges: number;
  /**
   * The W3C `traceparent` of the request that placed the order, when it was traced: work resumed later
   * links to that trace.
   */
  traceParent?: string | undefined;
}

/** An order with its saga state, as stored. */
export type OrderRecord = Order & SagaState;

/**
 * The order as callers and events see it: the record without its saga's bookkeeping.
 *
 * @example
 * ```ts ignore
 * const order = orderOf(await store.findOrder(id));
 * ```
 */
export function orderOf(record: OrderRecord): Order {
  const {
    sagaStep: _step,
    chargeAttempted: _charged,
    announcedChanges: _announced,
    traceParent: _trace,
    ...order
  } = record;
  return order;
}

/** Who drives an order's saga, until when. Only the lease holder may advance it. */
export interface Lease {
  owner: string;
  until: Date;
}

/** One page of orders, newest first. */
export interface OrderPage {
  orders: OrderRecord[];
  next: OrderCursor | undefined;
}

/** A position in newest-first order: after this order. */
export interface OrderCursor {
  createTime: Date;
  id: string;
}

/** Options of {@linkcode OrderStore.saveProgress}. */
export interface SaveOptions {
  /** Give the lease up with this save (as {@linkcode OrderStore.releaseLease} would), not extend it. */
  releaseLease?: boolean;
}

/** Persistence of orders and their sagas. */
export interface OrderStore {
  /**
   * Stores a new order under a lease, unless its (user, request id) exists: then returns the existing
   * one and stores nothing. Of concurrent inserts with one key exactly one creates.
   */
  insertOrder(
    order: OrderRecord,
    lease: Lease,
  ): Promise<{ created: true } | { created: false; existing: OrderRecord }>;
  findOrder(id: string): Promise<OrderRecord | undefined>;
  /**
   * Saves the order's progress if `lease.owner` still holds its lease (and extends it); false if not.
   * `events` go to the outbox in the same transaction, numbered after the order's earlier ones. With
   * `releaseLease`, the lease is given up in the same write instead of extended (the saga's last save).
   */
  saveProgress(
    order: OrderRecord,
    lease: Lease,
    events?: readonly OrderEventDraft[],
    options?: SaveOptions,
  ): Promise<boolean>;
  /** Takes the lease of an order whose lease is free or expired; undefined if someone else holds it. */
  claim(id: string, lease: Lease, now: Date): Promise<OrderRecord | undefined>;
  /**
   * Claims up to `limit` orders with saga work left whose leases have expired (crashed or stalled); an
   * order waiting for its payment's outcome (`await_payment`) has none.
   */
  claimStalled(lease: Lease, now: Date, limit: number): Promise<OrderRecord[]>;
  /** Gives a lease up, so the recovery loop may take the order at once. */
  releaseLease(id: string, owner: string): Promise<void>;
  /**
   * Takes up to `limit` undelivered events due at `now`, oldest first, at most one per order (its oldest
   * undelivered one, so an order's events go out in sequence), and hides them from other takers until
   * `until` (so instances share the work and a crashed taker's events come back).
   */
  claimOrderEvents(now: Date, until: Date, limit: number): Promise<OrderEvent[]>;
  /** The receiver acknowledged these events: they are never sent again. */
  markOrderEventsDelivered(eventIds: readonly string[], now: Date): Promise<void>;
  /** Delivery failed: counts the attempt and makes the event due again at `at`. */
  retryOrderEventAt(eventId: string, at: Date): Promise<void>;
  /** Deletes events delivered before `before`; returns how many. */
  purgeDeliveredOrderEvents(before: Date): Promise<number>;
  /** Orders newest first; all users' when `userId` is undefined. */
  listOrders(
    userId: string | undefined,
    pageSize: number,
    after: OrderCursor | undefined,
  ): Promise<OrderPage>;
}

/** The deadline of one call to another service. */
export interface CallOptions {
  timeoutMs: number;
}

/**
 * The service did not answer in time, is unreachable, or said it is overloaded: the same call may be
 * tried again later (every call of the saga is idempotent on the other side).
 */
export class DependencyUnavailable extends Error {
  override name = "DependencyUnavailable";
}

/**
 * The service answered with a final refusal that is not one of the outcomes the saga expects (its
 * `reason` from `google.rpc.ErrorInfo`): retrying the same call cannot help.
 */
export class DependencyFailed extends Error {
  override name = "DependencyFailed";
  /** The other service's error reason (`INVALID_STATE`, `PERMISSION_DENIED`, ...), or `INTERNAL`. */
  readonly reason: string;
  /** Wraps the other service's answer. */
  constructor(message: string, options: { reason: string; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.reason = options.reason;
  }
}

/** What reserving stock came to. */
export type ReserveOutcome =
  | { kind: "reserved"; lines: PricedItem[] }
  /** Not enough stock (or no such product): a final answer, not worth retrying. */
  | { kind: "refused"; reason: string };

/**
 * The product service's inventory, as the checkout sees it. Transient failures throw
 * {@linkcode DependencyUnavailable}, other failures {@linkcode DependencyFailed}.
 */
export interface Inventory {
  reserve(orderId: string, items: readonly RequestedItem[], call: CallOptions): Promise<ReserveOutcome>;
  /** Resolves `false` when the reservation can no longer be committed (it expired). */
  commit(orderId: string, call: CallOptions): Promise<boolean>;
  release(orderId: string, reason: string, call: CallOptions): Promise<void>;
}

/** What charging came to. */
export type ChargeOutcome =
  | { kind: "paid" }
  /** The payment processor has not decided yet; the payment service tells the outcome later. */
  | { kind: "processing" }
  /** Declined by the card issuer: final. `reason` is the payment service's, for the customer. */
  | { kind: "declined"; reason: string };

/** What refunding came to. */
export type RefundOutcome =
  /** What the order's payment has refunded in all; undefined when it had no successful payment. */
  | { kind: "refunded"; refunded: Money | undefined }
  /** The charge is still processing: nothing can be refunded until its outcome arrives. */
  | { kind: "processing" };

/**
 * The payment service, as the checkout sees it. Transient failures throw
 * {@linkcode DependencyUnavailable}, other failures {@linkcode DependencyFailed}.
 */
export interface Payments {
  charge(
    input: { orderId: string; userId: string; amount: Money; paymentMethod: string },
    call: CallOptions,
  ): Promise<ChargeOutcome>;
  /**
   * Refunds what is left of the order's payment; a no-op when there is none. `processing` when the
   * charge is still processing: nothing can be refunded until its outcome arrives.
   */
  refund(orderId: string, reason: string, call: CallOptions): Promise<RefundOutcome>;
}
