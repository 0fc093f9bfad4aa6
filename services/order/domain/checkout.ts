/**
 * The checkout saga and the order use cases. Placing an order reserves the stock, charges the payment
 * and commits the reservation; any failure compensates (release the stock, refund what may have been
 * charged). Every step is idempotent on the other side (keyed by the order id) and the next step is
 * stored with the order before it runs, so a process that dies anywhere is resumed by the recovery loop
 * and the order converges to PAID with one charge, or to FAILED/CANCELLED with its stock back and no net
 * charge.
 *
 * @module
 */
import { DomainError, invalidArgument, notFound } from "@shop/platform/errors";
import {
  mayAccess,
  type Order,
  type OrderStatus,
  orderTotal,
  type ShippingAddress,
  transition,
} from "./order.ts";
import type { Inventory, Lease, OrderCursor, OrderPage, OrderRecord, OrderStore, Payments } from "./ports.ts";

/** Where a test may crash the process on purpose (off unless the test-only fault hook is set). */
export type FaultPoint = "reserved" | "charged" | "committed" | "awaiting_payment" | "compensated";

/** Why a saga turned to compensation: a short, fixed word, fit for a metric label. */
export type CompensationReason =
  | "cancelled"
  | "stock_refused"
  | "payment_declined"
  | "dependency_unavailable"
  | "reservation_expired"
  | "invalid_order"
  | "payment_failed";

/** What happened in a checkout, for the operator's counters (the composition root turns it into metrics). */
export type CheckoutEvent =
  /** An order reached a final outcome for the customer (counted once, when it is stored). */
  | { type: "order_settled"; outcome: "paid" | "failed" | "cancelled" }
  /** A saga turned to compensation: its stock goes back and any charge is refunded. */
  | { type: "compensation_started"; reason: CompensationReason };

/** The caller, from verified claims. */
export interface Customer {
  id: string;
  role: "admin" | "customer";
}

/** What {@linkcode Checkout} is built from. */
export interface CheckoutDeps {
  store: OrderStore;
  inventory: Inventory;
  payments: Payments;
  /** This process's id, the owner name of its saga leases. */
  instanceId: string;
  /** How long a lease lasts without progress before the recovery loop may take the order (30 s). */
  leaseMs?: number;
  /** How long forward steps retry a dependency that is down before the order fails (15 s). */
  sagaBudgetMs?: number;
  /** Told of every {@linkcode CheckoutEvent}; must not throw (metrics only). */
  onEvent?: (event: CheckoutEvent) => void;
  /** TEST ONLY: called after each durable step; a crash test kills the process here. */
  faultAfter?: (point: FaultPoint) => void | Promise<void>;
  now?: () => Date;
  newId?: () => string;
  sleep?: (ms: number) => Promise<void>;
}

/** What a customer asks for. */
export interface PlaceOrderInput {
  requestId: string;
  items: ReadonlyArray<{ productId: string; quantity: number }>;
  shippingAddress: ShippingAddress;
  paymentMethod: string;
}

/** A dependency stayed down past the saga's budget. */
class OutOfTime extends Error {
  override name = "OutOfTime";
}

/** Someone else holds the order's lease now; this process stops driving it. */
class LeaseLost extends Error {
  override name = "LeaseLost";
}

/** How a charge that was processing ended, as the payment service reports it. */
export type PaymentOutcome =
  | { kind: "succeeded"; paymentId: string }
  | { kind: "failed"; paymentId: string; reason: string };

const statusWords: Record<OrderStatus, string> = {
  pending: "PENDING",
  awaiting_payment: "AWAITING_PAYMENT",
  paid: "PAID",
  shipped: "SHIPPED",
  delivered: "DELIVERED",
  failed: "FAILED",
  cancelled: "CANCELLED",
};

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
  #leaseMs: number;
  #budgetMs: number;
  #now: () => Date;
  #newId: () => string;
  #sleep: (ms: number) => Promise<void>;

  /** Creates the use cases over their ports. */
  constructor(deps: CheckoutDeps) {
    this.#deps = deps;
    this.#leaseMs = deps.leaseMs ?? 30_000;
    this.#budgetMs = deps.sagaBudgetMs ?? 15_000;
    this.#now = deps.now ?? (() => new Date());
    this.#newId = deps.newId ?? (() => crypto.randomUUID());
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Places an order and runs the checkout before answering: the order comes back PAID, or FAILED with a
   * reason. The same request id from the same user returns the same order and never starts a second
   * saga, even when the duplicates arrive together.
   */
  async placeOrder(customer: Customer, input: PlaceOrderInput): Promise<Order> {
    const seen = new Set<string>();
    input.items.forEach((item, index) => {
      if (seen.has(item.productId)) {
        throw invalidArgument([{
          field: `items[${index}].product_id`,
          description: "lists a product twice",
        }]);
      }
      seen.add(item.productId);
    });
    const now = this.#now();
    const order: OrderRecord = {
      id: this.#newId(),
      userId: customer.id,
      requestId: input.requestId,
      items: input.items.map((item) => ({ ...item, name: "", unitPrice: undefined })),
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
    };
    const deadline = now.getTime() + this.#budgetMs;
    const lease = this.#lease();
    const inserted = await this.#deps.store.insertOrder(order, lease);
    if (!inserted.created) return strip(await this.#awaitOutcome(inserted.existing, deadline));
    return strip(await this.#drive(order, lease, deadline));
  }

  /** One order; anyone but its owner or an admin gets NOT_FOUND (not a hint that it exists). */
  async getOrder(customer: Customer, id: string): Promise<Order> {
    const order = await this.#deps.store.findOrder(id);
    if (!order || !mayAccess(order, customer)) throw notFound("order", id);
    return strip(order);
  }

  /** The caller's orders newest first; an admin sees everyone's, or one user's with `userId`. */
  async listOrders(
    customer: Customer,
    userId: string,
    pageSize: number,
    after: OrderCursor | undefined,
  ): Promise<{ orders: Order[]; next: OrderCursor | undefined }> {
    const owner = customer.role === "admin" ? (userId || undefined) : customer.id;
    if (customer.role !== "admin" && userId && userId !== customer.id) {
      throw new DomainError(
        "permission_denied",
        "PERMISSION_DENIED",
        "only admins may list other users' orders",
      );
    }
    const page: OrderPage = await this.#deps.store.listOrders(owner, pageSize, after);
    return { orders: page.orders.map(strip), next: page.next };
  }

  /** Cancels an order that has not shipped: its stock returns and any payment is refunded. */
  async cancelOrder(customer: Customer, id: string, reason: string): Promise<Order> {
    const existing = await this.#deps.store.findOrder(id);
    if (!existing || !mayAccess(existing, customer)) throw notFound("order", id);
    if (existing.status === "awaiting_payment") throw paymentProcessing(id);
    const lease = this.#lease();
    const claimed = await this.#deps.store.claim(id, lease, this.#now());
    if (!claimed) {
      throw new DomainError(
        "aborted",
        "INVALID_STATE",
        "the order is being processed; try again in a moment",
      );
    }
    let cancelled: OrderRecord;
    try {
      if (claimed.status === "awaiting_payment") throw paymentProcessing(id);
      const changed = transition(claimed, "cancelled", reason || "cancelled by the customer", this.#now());
      cancelled = { ...claimed, ...changed, sagaStep: "compensate" };
    } catch (error) {
      await this.#deps.store.releaseLease(id, lease.owner);
      throw error;
    }
    await this.#save(cancelled, lease);
    this.#deps.onEvent?.({ type: "order_settled", outcome: "cancelled" });
    this.#deps.onEvent?.({ type: "compensation_started", reason: "cancelled" });
    return strip(await this.#drive(cancelled, lease, this.#now().getTime() + this.#budgetMs));
  }

  /** Admin only, in the transport: moves a PAID order to SHIPPED, and a SHIPPED one to DELIVERED. */
  async updateStatus(id: string, to: OrderStatus, reason: string): Promise<Order> {
    const existing = await this.#deps.store.findOrder(id);
    if (!existing) throw notFound("order", id);
    if (to !== "shipped" && to !== "delivered") {
      const hint = to === "cancelled" ? "; use CancelOrder, which returns the stock and refunds" : "";
      throw new DomainError(
        "failed_precondition",
        "INVALID_STATE",
        `an order that is ${statusWords[existing.status]} cannot be set to ${statusWords[to]} by hand${hint}`,
        { metadata: { order_id: id, from: existing.status, to } },
      );
    }
    const lease = this.#lease();
    const claimed = await this.#deps.store.claim(id, lease, this.#now());
    if (!claimed) {
      throw new DomainError(
        "aborted",
        "INVALID_STATE",
        "the order is being processed; try again in a moment",
      );
    }
    try {
      const moved: OrderRecord = {
        ...claimed,
        ...transition(claimed, to, reason || `marked ${to}`, this.#now()),
      };
      await this.#save(moved, lease);
      return strip(moved);
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
  async recordPaymentOutcome(orderId: string, outcome: PaymentOutcome): Promise<void> {
    const existing = await this.#deps.store.findOrder(orderId);
    if (!existing) throw notFound("order", orderId);
    const lease = this.#lease();
    let order = await this.#deps.store.claim(orderId, lease, this.#now());
    if (!order) {
      throw new DomainError(
        "aborted",
        "INVALID_STATE",
        "the order is being processed; try again in a moment",
      );
    }
    const deadline = this.#now().getTime() + this.#budgetMs;
    // A process that died mid-saga left the order short of waiting: finish the way there first (the
    // charge answers from the payment's ledger, which holds the outcome already).
    if (["reserve", "charge", "commit", "compensate"].includes(order.sagaStep)) {
      await this.#drive(order, lease, deadline);
      order = await this.#deps.store.claim(orderId, lease, this.#now());
      if (!order) {
        throw new DomainError(
          "aborted",
          "INVALID_STATE",
          "the order is being processed; try again in a moment",
        );
      }
    }
    if (order.sagaStep === "await_payment") {
      const settled = outcome.kind === "succeeded"
        ? await this.#paid(order, lease)
        : await this.#fail(order, lease, `payment failed: ${outcome.reason}`, "payment_failed");
      await this.#drive(settled, lease, deadline);
      return;
    }
    if (outcome.kind === "succeeded" && (order.status === "failed" || order.status === "cancelled")) {
      // Money captured for an order that will not be fulfilled: give it back.
      const refund: OrderRecord = { ...order, sagaStep: "compensate", chargeAttempted: true };
      await this.#drive(await this.#save(refund, lease), lease, deadline);
      return;
    }
    await this.#deps.store.releaseLease(orderId, lease.owner);
  }

  /**
   * Resumes up to `limit` orders whose saga stalled (their process died or gave up): the recovery loop
   * calls this periodically. Returns how many it drove.
   */
  async recoverStalled(limit = 20): Promise<number> {
    const lease = this.#lease();
    const stalled = await this.#deps.store.claimStalled(lease, this.#now(), limit);
    for (const order of stalled) {
      try {
        await this.#drive(order, lease, this.#now().getTime() + this.#budgetMs);
      } catch {
        // Left for the next round; #drive gave its lease up.
      }
    }
    return stalled.length;
  }

  /** Runs the saga until it is done, or until it must wait for the recovery loop. */
  async #drive(start: OrderRecord, lease: Lease, deadline: number): Promise<OrderRecord> {
    let order = start;
    try {
      while (order.sagaStep !== "done" && order.sagaStep !== "await_payment") {
        order = await this.#advance(order, lease, deadline);
      }
      await this.#deps.store.releaseLease(order.id, lease.owner);
      return order;
    } catch (error) {
      if (error instanceof LeaseLost) return await this.#deps.store.findOrder(order.id) ?? order;
      if (error instanceof OutOfTime) {
        // Compensation could not finish in time: the order's status is already final for the customer;
        // the recovery loop finishes returning the stock and money.
        await this.#deps.store.releaseLease(order.id, lease.owner);
        return order;
      }
      await this.#deps.store.releaseLease(order.id, lease.owner);
      throw error;
    }
  }

  /** Does the order's next step and stores the one after it. */
  async #advance(order: OrderRecord, lease: Lease, deadline: number): Promise<OrderRecord> {
    const { inventory, payments } = this.#deps;
    switch (order.sagaStep) {
      case "reserve": {
        const outcome = await this.#forward(() => inventory.reserve(order.id, order.items), deadline);
        if (outcome === "out of time") {
          return await this.#fail(
            order,
            lease,
            "checkout could not reach the stock service",
            "dependency_unavailable",
          );
        }
        if (outcome.kind === "refused") {
          return await this.#fail(order, lease, outcome.reason, "stock_refused");
        }
        const byProduct = new Map(outcome.lines.map((line) => [line.productId, line]));
        const items = order.items.map((item) => {
          const line = byProduct.get(item.productId);
          return { ...item, name: line?.name ?? "", unitPrice: line?.unitPrice };
        });
        let total;
        try {
          total = orderTotal(items);
        } catch (error) {
          return await this.#fail({ ...order, items }, lease, (error as Error).message, "invalid_order");
        }
        // Stored before the charge is sent: from here on, compensation must refund.
        const next = await this.#save(
          { ...order, items, total, sagaStep: "charge", chargeAttempted: true },
          lease,
        );
        await this.#deps.faultAfter?.("reserved");
        return next;
      }
      case "charge": {
        const amount = order.total;
        if (!amount) return await this.#fail(order, lease, "the order has no total", "invalid_order");
        const outcome = await this.#forward(
          () =>
            payments.charge({
              orderId: order.id,
              userId: order.userId,
              amount,
              paymentMethod: order.paymentMethod,
            }),
          deadline,
        );
        if (outcome === "out of time") {
          return await this.#fail(
            order,
            lease,
            "checkout could not reach the payment service",
            "dependency_unavailable",
          );
        }
        if (outcome.kind === "declined") {
          // The payment service's reason usually says "payment declined: ..." itself.
          const reason = /^payment declined/i.test(outcome.reason)
            ? outcome.reason
            : `payment declined: ${outcome.reason}`;
          return await this.#fail(order, lease, reason, "payment_declined");
        }
        // A charge still processing: the customer sees the order wait for its payment from now on.
        const waiting = outcome.kind === "processing"
          ? transition(order, "awaiting_payment", "payment processing", this.#now())
          : order;
        const next = await this.#save({ ...order, ...waiting, sagaStep: "commit" }, lease);
        await this.#deps.faultAfter?.("charged");
        return next;
      }
      case "commit": {
        const outcome = await this.#forward(() => inventory.commit(order.id), deadline);
        if (outcome === "out of time") {
          return await this.#fail(
            order,
            lease,
            "checkout could not reach the stock service",
            "dependency_unavailable",
          );
        }
        if (!outcome) {
          return await this.#fail(
            order,
            lease,
            "the stock reservation expired before payment completed",
            "reservation_expired",
          );
        }
        if (order.status === "awaiting_payment") {
          // The stock stays committed (held, with no expiry) until the payment's outcome arrives.
          const next = await this.#save({ ...order, sagaStep: "await_payment" }, lease);
          await this.#deps.faultAfter?.("awaiting_payment");
          return next;
        }
        return await this.#paid(order, lease);
      }
      case "await_payment":
        return order;
      case "compensate": {
        const why = order.status === "cancelled" ? "order cancelled" : `order failed: ${order.failureReason}`;
        await this.#retry(() => inventory.release(order.id, why), deadline);
        // A charge still processing cannot be refunded yet: its outcome reaches recordPaymentOutcome,
        // which refunds it then if it was captured.
        if (order.chargeAttempted) await this.#retry(() => payments.refund(order.id, why), deadline);
        const next = await this.#save({ ...order, sagaStep: "done" }, lease);
        await this.#deps.faultAfter?.("compensated");
        return next;
      }
      case "done":
        return order;
    }
  }

  /** Marks the order PAID: the stock is committed and the money captured. */
  async #paid(order: OrderRecord, lease: Lease): Promise<OrderRecord> {
    const paid = transition(order, "paid", "payment captured", this.#now());
    const next = await this.#save({ ...order, ...paid, sagaStep: "done" }, lease);
    this.#deps.onEvent?.({ type: "order_settled", outcome: "paid" });
    await this.#deps.faultAfter?.("committed");
    return next;
  }

  /** Marks the order FAILED with a reason the customer can read, and turns the saga to compensation. */
  async #fail(
    order: OrderRecord,
    lease: Lease,
    reason: string,
    cause: Exclude<CompensationReason, "cancelled">,
  ): Promise<OrderRecord> {
    const failed = transition(order, "failed", reason, this.#now());
    const saved = await this.#save({ ...order, ...failed, sagaStep: "compensate" }, lease);
    this.#deps.onEvent?.({ type: "order_settled", outcome: "failed" });
    this.#deps.onEvent?.({ type: "compensation_started", reason: cause });
    return saved;
  }

  async #save(order: OrderRecord, lease: Lease): Promise<OrderRecord> {
    const extended = { owner: lease.owner, until: new Date(this.#now().getTime() + this.#leaseMs) };
    if (!await this.#deps.store.saveProgress(order, extended)) throw new LeaseLost(order.id);
    lease.until = extended.until;
    return order;
  }

  /** A forward step: retried while its dependency is down, until the deadline. */
  async #forward<T>(call: () => Promise<T>, deadline: number): Promise<T | "out of time"> {
    try {
      return await this.#retry(call, deadline);
    } catch (error) {
      if (error instanceof OutOfTime) return "out of time";
      throw error;
    }
  }

  async #retry<T>(call: () => Promise<T>, deadline: number): Promise<T> {
    let delay = 100;
    while (true) {
      try {
        return await call();
      } catch (error) {
        if (this.#now().getTime() + delay >= deadline) throw new OutOfTime(String(error));
        await this.#sleep(delay + Math.floor(Math.random() * delay / 2));
        delay = Math.min(delay * 2, 2_000);
      }
    }
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

  #lease(): Lease {
    return {
      owner: `${this.#deps.instanceId}/${this.#newId()}`,
      until: new Date(this.#now().getTime() + this.#leaseMs),
    };
  }
}

/** Cancelling must wait for the outcome of a payment in flight. */
function paymentProcessing(orderId: string): DomainError {
  return new DomainError(
    "failed_precondition",
    "PAYMENT_PROCESSING",
    "the order's payment is still processing; it can be cancelled once the payment has completed",
    { metadata: { order_id: orderId } },
  );
}

/** The order as callers see it, without the saga's bookkeeping. */
function strip(record: OrderRecord): Order {
  const { sagaStep: _step, chargeAttempted: _charged, ...order } = record;
  return order;
}
