/**
 * The order use cases: placing an order (the checkout saga, `saga.ts`), reading and listing orders,
 * cancelling, setting shipping statuses, and taking in the outcome of a payment that was processing.
 * Each call that runs the saga takes the caller's deadline; the saga never outlives it.
 *
 * @module
 */
import {
  notSettableByHand,
  orderBusy,
  orderNotFound,
  othersOrdersDenied,
  paymentProcessing,
  productListedTwice,
} from "./errors.ts";
import { mayAccess, type Order, type OrderStatus, type ShippingAddress, transition } from "./order.ts";
import { type Lease, type OrderCursor, orderOf, type OrderRecord } from "./ports.ts";
import { CheckoutSaga, type SagaDeps } from "./saga.ts";

export type { CheckoutEvent, CompensationReason, FaultPoint } from "./saga.ts";

/** The caller, from verified claims. */
export interface Customer {
  id: string;
  role: "admin" | "customer";
}

/** What {@linkcode Checkout} is built from. */
export interface CheckoutDeps extends SagaDeps {
  /** How long a checkout may take when the caller sets no shorter deadline (12 s). */
  sagaBudgetMs?: number;
}

/** When the caller stops waiting: an absolute time in ms since the epoch, if it set one. */
export interface CallerDeadline {
  deadline?: number;
}

/** What a customer asks for. */
export interface PlaceOrderInput {
  requestId: string;
  items: ReadonlyArray<{ productId: string; quantity: number }>;
  shippingAddress: ShippingAddress;
  paymentMethod: string;
}

/** How a charge that was processing ended, as the payment service reports it. */
export type PaymentOutcome =
  | { kind: "succeeded"; paymentId: string }
  | { kind: "failed"; paymentId: string; reason: string };

/** Time kept back from the caller's deadline for the answer to travel back. */
const answerMarginMs = 200;

/**
 * The order use cases.
 *
 * @example
 * ```ts
 * declare const deps: CheckoutDeps;
 * const checkout = new Checkout(deps);
 * ```
 */
export class Checkout {
  #deps: CheckoutDeps;
  #saga: CheckoutSaga;
  #budgetMs: number;
  #now: () => Date;
  #newId: () => string;
  #sleep: (ms: number) => Promise<void>;

  /** Creates the use cases over their ports. */
  constructor(deps: CheckoutDeps) {
    this.#deps = deps;
    this.#saga = new CheckoutSaga(deps);
    this.#budgetMs = deps.sagaBudgetMs ?? 12_000;
    this.#now = deps.now ?? (() => new Date());
    this.#newId = deps.newId ?? (() => crypto.randomUUID());
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Places an order and runs the checkout before answering: the order comes back PAID, AWAITING_PAYMENT,
   * or FAILED with a reason. The same request id from the same user returns the same order and never
   * starts a second saga, even when the duplicates arrive together.
   */
  async placeOrder(customer: Customer, input: PlaceOrderInput, caller: CallerDeadline = {}): Promise<Order> {
    const seen = new Set<string>();
    input.items.forEach((item, index) => {
      if (seen.has(item.productId)) throw productListedTwice(index);
      seen.add(item.productId);
    });
    const deadline = this.#deadline(caller);
    const now = this.#now();
    const order: OrderRecord = {
      id: this.#newId(),
      userId: customer.id,
      requestId: input.requestId,
      items: input.items.map(({ productId, quantity }) => ({ productId, quantity })),
      total: undefined,
      status: "pending",
      statusHistory: [{ status: "pending", reason: "order placed", time: now }],
      failureReason: "",
      shippingAddress: { ...input.shippingAddress },
      paymentMethod: input.paymentMethod,
      createTime: now,
      updateTime: now,
      sagaStep: "reserve",
      chargeAttempted: false,
      announcedChanges: 0,
      traceParent: this.#deps.currentTraceParent?.(),
    };
    const lease = this.#saga.newLease();
    const inserted = await this.#deps.store.insertOrder(order, lease);
    if (!inserted.created) return orderOf(await this.#awaitOutcome(inserted.existing, deadline));
    return orderOf(await this.#saga.drive(order, lease, deadline));
  }

  /** One order; anyone but its owner or an admin gets NOT_FOUND (not a hint that it exists). */
  async getOrder(customer: Customer, id: string): Promise<Order> {
    const order = await this.#deps.store.findOrder(id);
    if (!order || !mayAccess(order, customer)) throw orderNotFound(id);
    return orderOf(order);
  }

  /** The caller's orders newest first; an admin sees everyone's, or one user's with `userId`. */
  async listOrders(
    customer: Customer,
    userId: string,
    pageSize: number,
    after: OrderCursor | undefined,
  ): Promise<{ orders: Order[]; next: OrderCursor | undefined }> {
    if (customer.role !== "admin" && userId && userId !== customer.id) throw othersOrdersDenied();
    const owner = customer.role === "admin" ? (userId || undefined) : customer.id;
    const page = await this.#deps.store.listOrders(owner, pageSize, after);
    return { orders: page.orders.map(orderOf), next: page.next };
  }

  /**
   * Cancels an order that has not shipped: its stock returns and any payment is refunded. One whose
   * payment is still processing is FAILED_PRECONDITION PAYMENT_PROCESSING.
   */
  async cancelOrder(
    customer: Customer,
    id: string,
    reason: string,
    caller: CallerDeadline = {},
  ): Promise<Order> {
    const existing = await this.#deps.store.findOrder(id);
    if (!existing || !mayAccess(existing, customer)) throw orderNotFound(id);
    if (existing.status === "awaiting_payment") throw paymentProcessing(id);
    const { order: claimed, lease } = await this.#claim(id);
    let cancelled: OrderRecord;
    try {
      if (claimed.status === "awaiting_payment") throw paymentProcessing(id);
      cancelled = {
        ...transition(claimed, "cancelled", reason || "cancelled by the customer", this.#now()),
        sagaStep: "compensate",
      };
    } catch (error) {
      await this.#deps.store.releaseLease(id, lease.owner);
      throw error;
    }
    // Driven on from what was saved: it knows its CANCELLED is announced already.
    const saved = await this.#saga.save(cancelled, lease);
    this.#deps.onEvent?.({ type: "order_settled", outcome: "cancelled" });
    this.#deps.onEvent?.({ type: "compensation_started", reason: "cancelled" });
    return orderOf(await this.#saga.drive(saved, lease, this.#deadline(caller)));
  }

  /** Admin only, in the transport: moves a PAID order to SHIPPED, and a SHIPPED one to DELIVERED. */
  async updateStatus(id: string, to: OrderStatus, reason: string): Promise<Order> {
    const existing = await this.#deps.store.findOrder(id);
    if (!existing) throw orderNotFound(id);
    if (to !== "shipped" && to !== "delivered") throw notSettableByHand(id, existing.status, to);
    const { order: claimed, lease } = await this.#claim(id);
    try {
      const moved = { ...claimed, ...transition(claimed, to, reason || `marked ${to}`, this.#now()) };
      await this.#saga.save(moved, lease);
      return orderOf(moved);
    } finally {
      await this.#deps.store.releaseLease(id, lease.owner);
    }
  }

  /**
   * Applies the outcome of a charge that was processing, as the payment service reports it (at least
   * once): a succeeded payment makes an order that awaits it PAID; a failed one makes it FAILED and
   * returns its stock. A payment that succeeded for an order that failed or was cancelled meanwhile is
   * refunded. An order whose saga is still on its way to waiting is driven there first; an outcome
   * applied before changes nothing. ABORTED while another request drives the order (the payment service
   * sends the notice again later).
   */
  async recordPaymentOutcome(
    orderId: string,
    outcome: PaymentOutcome,
    caller: CallerDeadline = {},
  ): Promise<void> {
    const deadline = this.#deadline(caller);
    const first = await this.#deps.store.findOrder(orderId);
    return await this.#resumed(
      orderId,
      first?.traceParent,
      () => this.#applyOutcome(orderId, outcome, deadline),
    );
  }

  async #applyOutcome(orderId: string, outcome: PaymentOutcome, deadline: number): Promise<void> {
    let { order, lease } = await this.#claim(orderId);
    // A process that died mid-saga left the order short of waiting: finish the way there first (the
    // charge answers from the payment's ledger, which holds the outcome already).
    if (order.sagaStep !== "await_payment" && order.sagaStep !== "done") {
      await this.#saga.drive(order, lease, deadline);
      ({ order, lease } = await this.#claim(orderId));
    }
    if (order.sagaStep === "await_payment" && order.total !== undefined) {
      const settled = outcome.kind === "succeeded"
        ? await this.#saga.paid(order, lease)
        : await this.#saga.fail(order, lease, `payment failed: ${outcome.reason}`, "payment_failed");
      await this.#saga.drive(settled, lease, deadline);
      return;
    }
    if (outcome.kind === "succeeded" && (order.status === "failed" || order.status === "cancelled")) {
      // Money captured for an order that will not be fulfilled: give it back.
      const refund = await this.#saga.save(
        { ...order, sagaStep: "compensate", chargeAttempted: true },
        lease,
      );
      await this.#saga.drive(refund, lease, deadline);
      return;
    }
    await this.#deps.store.releaseLease(orderId, lease.owner);
  }

  /**
   * Resumes up to `limit` orders whose saga stalled (their process died or gave up): the recovery loop
   * calls this periodically. Returns how many it drove.
   */
  async recoverStalled(limit = 20): Promise<number> {
    const lease = this.#saga.newLease();
    const stalled = await this.#deps.store.claimStalled(lease, this.#now(), limit);
    for (const order of stalled) {
      try {
        await this.#resumed(
          order.id,
          order.traceParent,
          () => this.#saga.drive(order, lease, this.#deadline({})),
        );
      } catch {
        // Left for the next round; drive() gave its lease up.
      }
    }
    return stalled.length;
  }

  /** Runs work that resumes an order's saga, observed as such when the composition root asks to. */
  #resumed<T>(orderId: string, traceParent: string | undefined, run: () => Promise<T>): Promise<T> {
    return this.#deps.observeResume ? this.#deps.observeResume(orderId, traceParent, run) : run();
  }

  /** Takes the order's lease; ABORTED while someone else drives it, NOT_FOUND when there is none. */
  async #claim(id: string): Promise<{ order: OrderRecord; lease: Lease }> {
    const lease = this.#saga.newLease();
    const order = await this.#deps.store.claim(id, lease, this.#now());
    if (order) return { order, lease };
    if (!await this.#deps.store.findOrder(id)) throw orderNotFound(id);
    throw orderBusy(id);
  }

  /** The saga's deadline: its budget, or the caller's deadline less the answer's way back if sooner. */
  #deadline(caller: CallerDeadline): number {
    const budget = this.#now().getTime() + this.#budgetMs;
    return caller.deadline === undefined ? budget : Math.min(budget, caller.deadline - answerMarginMs);
  }

  /** A duplicate request: waits until the first request's saga has decided, then answers the same. */
  async #awaitOutcome(existing: OrderRecord, deadline: number): Promise<OrderRecord> {
    let order = existing;
    while (order.status === "pending" && this.#now().getTime() < deadline) {
      await this.#sleep(50);
      order = await this.#deps.store.findOrder(order.id) ?? order;
    }
    return order;
  }
}
