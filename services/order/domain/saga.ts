/**
 * The checkout saga's engine: reserve the stock, charge the payment, commit the reservation; any
 * failure compensates (release the stock, refund what may have been charged). Every step is idempotent
 * on the other side (keyed by the order id) and the next step is stored with the order before it runs,
 * so a process that dies anywhere is resumed by the recovery loop and the order converges to PAID with
 * one charge, or to FAILED/CANCELLED with its stock back and no net charge.
 *
 * Calls to other services run under one deadline, the caller's: each gets what is left of it (at most
 * its own cap); only failures that may pass (unavailable, timed out, overloaded) are retried, with
 * backoff and jitter, and anything else ends the step at once with the other service's reason.
 *
 * @module
 */
import { type Money, price, type PricedOrder, transition, type UnpricedOrder } from "./order.ts";
import { type OrderEventDraft, refundEvent, refundEventId, statusEvents } from "./order_events.ts";
import {
  type CallOptions,
  DependencyFailed,
  DependencyUnavailable,
  type Inventory,
  type Lease,
  type OrderRecord,
  type OrderStore,
  type Payments,
  type SagaState,
} from "./ports.ts";

/** Where a test may crash the process on purpose (off unless the test-only fault hook is set). */
export type FaultPoint = "reserved" | "charged" | "committed" | "awaiting_payment" | "compensated";

/** Why a saga turned to compensation: a short, fixed word, fit for a metric label. */
export type CompensationReason =
  | "cancelled"
  | "stock_refused"
  | "payment_declined"
  | "payment_failed"
  | "dependency_unavailable"
  | "dependency_failed"
  | "reservation_expired"
  | "invalid_order";

/** What happened in a checkout, for the operator's counters (the composition root turns it into metrics). */
export type CheckoutEvent =
  /** An order reached a final outcome for the customer (counted once, when it is stored). */
  | { type: "order_settled"; outcome: "paid" | "failed" | "cancelled" }
  /** A saga turned to compensation: its stock goes back and any charge is refunded. */
  | { type: "compensation_started"; reason: CompensationReason };

/** The other services the saga calls, by the name a customer reads in a failure reason. */
type Dependency = "stock" | "payment";

/** What {@linkcode CheckoutSaga} is built from. */
export interface SagaDeps {
  store: OrderStore;
  inventory: Inventory;
  payments: Payments;
  /** This process's id, the owner name of its saga leases. */
  instanceId: string;
  /** How long a lease lasts without progress before the recovery loop may take the order (30 s). */
  leaseMs?: number;
  /** The longest one call may take, whatever is left of the deadline (stock 5 s, payment 12 s). */
  callCapsMs?: Partial<Record<Dependency, number>>;
  /** Told of every {@linkcode CheckoutEvent}; must not throw (metrics only). */
  onEvent?: (event: CheckoutEvent) => void;
  /**
   * Wraps each step the saga takes (reserve, charge, commit, compensate) for observation: the
   * composition root makes it a span carrying the order id. Must call `run` once and pass its outcome on.
   */
  observeStep?: <T>(
    step: "reserve" | "charge" | "commit" | "compensate",
    orderId: string,
    run: () => Promise<T>,
  ) => Promise<T>;
  /**
   * Wraps work on an order that resumes its saga outside the request that placed it (the recovery loop,
   * a payment's outcome): the composition root makes it a span linked to the order's first trace
   * (`traceParent`). Must call `run` once and pass its outcome on.
   */
  observeResume?: <T>(orderId: string, traceParent: string | undefined, run: () => Promise<T>) => Promise<T>;
  /** The W3C `traceparent` of the request being handled, stored with a new order (none when untraced). */
  currentTraceParent?: () => string | undefined;
  /** TEST ONLY: called after each durable step; a crash test kills the process here. */
  faultAfter?: (point: FaultPoint) => void | Promise<void>;
  now?: () => Date;
  newId?: () => string;
  sleep?: (ms: number) => Promise<void>;
}

/** A dependency stayed unavailable until the deadline. */
class OutOfTime extends Error {
  override name = "OutOfTime";
  readonly dependency: Dependency;
  constructor(dependency: Dependency, cause?: unknown) {
    super(`the ${dependency} service did not answer in time`, { cause });
    this.dependency = dependency;
  }
}

/** Someone else holds the order's lease now; this process stops driving it. */
class LeaseLost extends Error {
  override name = "LeaseLost";
}

/** Only a priced order is charged and committed, and only an unpriced one reserved: a broken invariant. */
function stepMismatch(order: OrderRecord): Error {
  return new Error(`order ${order.id} is ${order.total ? "" : "not "}priced at saga step ${order.sagaStep}`);
}

/** Whether the saga has nothing more to do for now: done, or waiting for the payment's outcome. */
function sagaEnds(order: OrderRecord): boolean {
  return order.sagaStep === "done" || order.sagaStep === "await_payment";
}

/** A call shorter than this is not worth sending: the answer could not come back in time. */
const shortestCallMs = 50;

/**
 * Drives orders through the checkout saga.
 *
 * @example
 * ```ts
 * declare const deps: SagaDeps;
 * declare const order: OrderRecord;
 * const saga = new CheckoutSaga(deps);
 * const lease = saga.newLease();
 * await saga.drive(order, lease, Date.now() + 10_000);
 * ```
 */
export class CheckoutSaga {
  #deps: SagaDeps;
  #leaseMs: number;
  #caps: Record<Dependency, number>;
  #now: () => Date;
  #newId: () => string;
  #sleep: (ms: number) => Promise<void>;

  /** Creates the engine over its ports. */
  constructor(deps: SagaDeps) {
    this.#deps = deps;
    this.#leaseMs = deps.leaseMs ?? 30_000;
    this.#caps = { stock: 5_000, payment: 12_000, ...deps.callCapsMs };
    this.#now = deps.now ?? (() => new Date());
    this.#newId = deps.newId ?? (() => crypto.randomUUID());
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** A fresh lease owned by this process, valid for the lease time from now. */
  newLease(): Lease {
    return {
      owner: `${this.#deps.instanceId}/${this.#newId()}`,
      until: new Date(this.#now().getTime() + this.#leaseMs),
    };
  }

  /**
   * Runs the saga until it is done or waits for its payment's outcome (the lease is then given up), or
   * until it must wait for the recovery loop. Returns the order as it stands.
   */
  async drive(start: OrderRecord, lease: Lease, deadline: number): Promise<OrderRecord> {
    let order = start;
    try {
      let released = false;
      while (!sagaEnds(order)) {
        order = await this.#advance(order, lease, deadline);
        // The save that ended the saga gave the lease up with it (see save).
        released = sagaEnds(order);
      }
      if (!released) await this.#deps.store.releaseLease(order.id, lease.owner);
      return order;
    } catch (error) {
      if (error instanceof LeaseLost) return await this.#deps.store.findOrder(order.id) ?? order;
      await this.#deps.store.releaseLease(order.id, lease.owner);
      // Compensation that could not finish in time: the order's status is already final for the
      // customer; the recovery loop finishes returning the stock and money.
      if (error instanceof OutOfTime || error instanceof DependencyFailed) return order;
      throw error;
    }
  }

  /** Marks the order PAID: the stock is committed and the money captured. */
  async paid(order: OrderRecord & PricedOrder, lease: Lease): Promise<OrderRecord> {
    const next = await this.save({
      ...transition(order, "paid", "payment captured", this.#now()),
      sagaStep: "done",
    }, lease);
    this.#deps.onEvent?.({ type: "order_settled", outcome: "paid" });
    await this.#deps.faultAfter?.("committed");
    return next;
  }

  /** Marks the order FAILED with a reason the customer can read, and turns the saga to compensation. */
  async fail(
    order: OrderRecord,
    lease: Lease,
    reason: string,
    cause: Exclude<CompensationReason, "cancelled">,
  ): Promise<OrderRecord> {
    const saved = await this.save({
      ...transition(order, "failed", reason, this.#now()),
      sagaStep: "compensate",
    }, lease);
    this.#deps.onEvent?.({ type: "order_settled", outcome: "failed" });
    this.#deps.onEvent?.({ type: "compensation_started", reason: cause });
    return saved;
  }

  /**
   * Stores the order's progress and extends the lease; {@linkcode LeaseLost} when it is not ours. Every
   * status change not announced yet, and `events`, go to the outbox in the same transaction. A save that
   * ends the saga (`done`, or waiting for the payment's outcome) gives the lease up in the same write.
   */
  async save<T extends OrderRecord>(
    order: T,
    lease: Lease,
    events: readonly OrderEventDraft[] = [],
  ): Promise<T> {
    const extended = { owner: lease.owner, until: new Date(this.#now().getTime() + this.#leaseMs) };
    const { drafts, announcedChanges } = statusEvents(order, this.#newId);
    const next: T = { ...order, announcedChanges };
    const releaseLease = sagaEnds(next);
    if (!await this.#deps.store.saveProgress(next, extended, [...drafts, ...events], { releaseLease })) {
      throw new LeaseLost(order.id);
    }
    lease.until = extended.until;
    return next;
  }

  /** Does the order's next step and stores the one after it. */
  #advance(order: OrderRecord, lease: Lease, deadline: number): Promise<OrderRecord> {
    const step = order.sagaStep;
    if (step === "await_payment" || step === "done") return Promise.resolve(order);
    const run = () => this.#step(order, lease, deadline);
    return this.#deps.observeStep ? this.#deps.observeStep(step, order.id, run) : run();
  }

  async #step(order: OrderRecord, lease: Lease, deadline: number): Promise<OrderRecord> {
    switch (order.sagaStep) {
      case "reserve":
        if (order.total !== undefined) throw stepMismatch(order);
        return await this.#reserve(order, lease, deadline);
      case "charge":
        if (order.total === undefined) throw stepMismatch(order);
        return await this.#charge(order, lease, deadline);
      case "commit":
        if (order.total === undefined) throw stepMismatch(order);
        return await this.#commit(order, lease, deadline);
      case "compensate":
        return await this.#compensate(order, lease, deadline);
      case "await_payment":
      case "done":
        return order;
    }
  }

  async #reserve(order: UnpricedOrder & SagaState, lease: Lease, deadline: number): Promise<OrderRecord> {
    const { inventory } = this.#deps;
    let outcome;
    try {
      outcome = await this.#call("stock", (call) => inventory.reserve(order.id, order.items, call), deadline);
    } catch (error) {
      return await this.#failForward(order, lease, "stock", error);
    }
    if (outcome.kind === "refused") return await this.fail(order, lease, outcome.reason, "stock_refused");
    let priced;
    try {
      priced = price(order, outcome.lines);
    } catch (error) {
      return await this.fail(order, lease, (error as Error).message, "invalid_order");
    }
    // Stored before the charge is sent: from here on, compensation must refund.
    const next = await this.save({ ...priced, sagaStep: "charge", chargeAttempted: true }, lease);
    await this.#deps.faultAfter?.("reserved");
    return next;
  }

  async #charge(order: PricedOrder & SagaState, lease: Lease, deadline: number): Promise<OrderRecord> {
    const { payments } = this.#deps;
    const input = {
      orderId: order.id,
      userId: order.userId,
      amount: order.total,
      paymentMethod: order.paymentMethod,
    };
    let outcome;
    try {
      outcome = await this.#call("payment", (call) => payments.charge(input, call), deadline);
    } catch (error) {
      return await this.#failForward(order, lease, "payment", error);
    }
    if (outcome.kind === "declined") return await this.fail(order, lease, outcome.reason, "payment_declined");
    // A charge still processing: the customer sees the order wait for its payment from now on.
    const next = await this.save(
      outcome.kind === "processing"
        ? { ...transition(order, "awaiting_payment", "payment processing", this.#now()), sagaStep: "commit" }
        : { ...order, sagaStep: "commit" },
      lease,
    );
    await this.#deps.faultAfter?.("charged");
    return next;
  }

  async #commit(order: PricedOrder & SagaState, lease: Lease, deadline: number): Promise<OrderRecord> {
    const { inventory } = this.#deps;
    let committed;
    try {
      committed = await this.#call("stock", (call) => inventory.commit(order.id, call), deadline);
    } catch (error) {
      return await this.#failForward(order, lease, "stock", error);
    }
    if (!committed) {
      return await this.fail(
        order,
        lease,
        "the stock reservation expired before payment completed",
        "reservation_expired",
      );
    }
    if (order.status === "awaiting_payment") {
      // The stock stays committed (held, with no expiry) until the payment's outcome arrives.
      const next = await this.save({ ...order, sagaStep: "await_payment" }, lease);
      await this.#deps.faultAfter?.("awaiting_payment");
      return next;
    }
    return await this.paid(order, lease);
  }

  async #compensate(order: OrderRecord, lease: Lease, deadline: number): Promise<OrderRecord> {
    const { inventory, payments } = this.#deps;
    const why = order.status === "cancelled" ? "order cancelled" : `order failed: ${order.failureReason}`;
    await this.#call("stock", (call) => inventory.release(order.id, why, call), deadline);
    // A charge still processing cannot be refunded yet: its outcome reaches the order later, and a
    // captured one is refunded then (Checkout.recordPaymentOutcome).
    let refunded: Money | undefined;
    if (order.chargeAttempted) {
      const outcome = await this.#call("payment", (call) => payments.refund(order.id, why, call), deadline);
      if (outcome.kind === "refunded") refunded = outcome.refunded;
    }
    // Named by the order and the total refunded: a compensation run again announces no second refund.
    const refund = refunded &&
      refundEvent(order, refunded, this.#now(), await refundEventId(order.id, refunded));
    const next = await this.save({ ...order, sagaStep: "done" }, lease, refund ? [refund] : []);
    await this.#deps.faultAfter?.("compensated");
    return next;
  }

  /** A forward step that could not finish: the order fails with a reason the customer can read. */
  async #failForward(order: OrderRecord, lease: Lease, dependency: Dependency, error: unknown) {
    if (error instanceof OutOfTime) {
      return await this.fail(
        order,
        lease,
        `checkout could not reach the ${dependency} service`,
        "dependency_unavailable",
      );
    }
    if (error instanceof DependencyFailed) {
      return await this.fail(
        order,
        lease,
        `the ${dependency} service refused the checkout: ${error.message}`,
        "dependency_failed",
      );
    }
    throw error;
  }

  /**
   * One call to another service under the deadline: each attempt gets what is left (at most the
   * service's cap); {@linkcode DependencyUnavailable} is retried with backoff and jitter; anything else
   * ends the call at once. {@linkcode OutOfTime} when the deadline passes.
   */
  async #call<T>(
    dependency: Dependency,
    call: (options: CallOptions) => Promise<T>,
    deadline: number,
  ): Promise<T> {
    let delay = 100;
    while (true) {
      const left = deadline - this.#now().getTime();
      if (left < shortestCallMs) throw new OutOfTime(dependency);
      try {
        return await call({ timeoutMs: Math.min(left, this.#caps[dependency]) });
      } catch (error) {
        if (!(error instanceof DependencyUnavailable)) throw error;
        if (this.#now().getTime() + delay >= deadline) throw new OutOfTime(dependency, error);
        await this.#sleep(delay + Math.floor(Math.random() * delay / 2));
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }
}
