/**
 * The payment use cases: charging an order, refunding, reading the ledger, and applying Stripe's webhook
 * events. Plain logic over the ports; no driver, no transport.
 *
 * The crash-repair rule everything here follows: a PENDING row carrying the Stripe Idempotency-Key is
 * written BEFORE Stripe is called, and a PENDING row is always settled by sending Stripe the same request
 * with the same key again. Stripe answers a repeated key with the first response, so a crash, a timeout or
 * a lost answer between "Stripe said yes" and "we wrote it down" is repaired by the next attempt, and no
 * PaymentIntent or refund exists that the ledger has no row for.
 *
 * @module
 */
import { DomainError, invalidArgument, notFound } from "@shop/platform/errors";
import {
  invalidPaymentState,
  paymentDeclined,
  paymentProcessing,
  refundExceedsPayment,
  stripeUnavailable,
} from "./errors.ts";
import {
  chargeIdempotencyKey,
  type Money,
  orderRefundIdempotencyKey,
  type Payment,
  type Refund,
  refundableMinor,
  refundIdempotencyKey,
} from "./payment.ts";
import {
  type ChargeOutcome,
  type ChargeSettlement,
  GatewayRejectedError,
  GatewayUnavailableError,
  type LedgerEffect,
  type PaymentCursor,
  type PaymentEvent,
  type PaymentGateway,
  type PaymentPage,
  type PaymentStore,
} from "./ports.ts";
import { type RetryClock, type RetryPolicy, retryWithinDeadline, systemClock } from "./retry.ts";

/** Who is looking at the ledger. */
export interface Viewer {
  id: string;
  role: "customer" | "admin";
}

/** When a call must be done by: an absolute time in ms since the epoch. */
export interface CallDeadline {
  deadline?: number;
}

/** How a charge attempt with Stripe ended, for the operator's counters (metrics only). */
export type ChargeOutcomeEvent = {
  type: "charge";
  /** `rejected`: Stripe refused the request itself; `unavailable`: no answer within the deadline. */
  outcome: "succeeded" | "pending" | "declined" | "rejected" | "unavailable";
};

/** What {@linkcode Payments} is built from. */
export interface PaymentsDeps {
  store: PaymentStore;
  gateway: PaymentGateway;
  /** How Stripe calls are retried (each attempt 10 s at most, backoff from 100 ms to 2 s unless set). */
  retry?: Partial<RetryPolicy>;
  /** The deadline of a call whose caller set none, in ms from its start (20 s unless set). */
  defaultDeadlineMs?: number;
  /**
   * Time kept back from the deadline for writing the outcome down after Stripe answers, in ms (300 unless
   * set): a Stripe attempt never runs into the time the ledger write needs.
   */
  settleReserveMs?: number;
  /** Told how each charge sent to Stripe ended (not replays of a settled one); must not throw. */
  onEvent?: (event: ChargeOutcomeEvent) => void;
  clock?: RetryClock;
  now?: () => Date;
  newId?: () => string;
}

/** Charging an order. */
export interface ChargeInput {
  orderId: string;
  userId: string;
  amount: Money;
  paymentMethod: string;
}

/** A refund an admin asks for. */
export interface RefundInput {
  paymentId: string;
  /** Omitted: everything that is left. */
  amount: Money | undefined;
  reason: string;
  /** Makes the call idempotent: a retry with it returns the first result and refunds once. */
  requestId: string | undefined;
}

/** Decline text for a card that needs 3-D Secure, which a backend-only charge cannot complete. */
const authenticationRequired = {
  declineCode: "authentication_required",
  message: "The card requires authentication, which this shop cannot request yet.",
};

/**
 * The payment use cases.
 *
 * @example
 * ```ts
 * declare const deps: PaymentsDeps;
 * const payments = new Payments(deps);
 * const payment = await payments.charge({
 *   orderId: crypto.randomUUID(),
 *   userId: crypto.randomUUID(),
 *   amount: { currencyCode: "USD", amountMinor: 1999n },
 *   paymentMethod: "pm_card_visa",
 * });
 * ```
 */
export class Payments {
  #deps: PaymentsDeps;
  #policy: RetryPolicy;
  #clock: RetryClock;
  #now: () => Date;
  #newId: () => string;

  /** Creates the use cases over their ports. */
  constructor(deps: PaymentsDeps) {
    this.#deps = deps;
    this.#policy = {
      attemptTimeoutMs: 10_000,
      baseDelayMs: 100,
      maxDelayMs: 2_000,
      minAttemptMs: 200,
      ...deps.retry,
    };
    this.#clock = deps.clock ?? systemClock;
    this.#now = deps.now ?? (() => new Date());
    this.#newId = deps.newId ?? (() => crypto.randomUUID());
  }

  /**
   * Charges an order once. Calling again for the same order returns the same payment (re-asking Stripe
   * with the same Idempotency-Key while it is PENDING) and never charges twice. A decline is
   * FAILED_PRECONDITION PAYMENT_DECLINED and leaves a FAILED payment; Stripe unreachable within the
   * deadline is UNAVAILABLE and leaves the payment PENDING for the retry.
   */
  async charge(input: ChargeInput, options: CallDeadline = {}): Promise<Payment> {
    if (input.amount.amountMinor <= 0n) {
      throw invalidArgument([{ field: "amount.amount_minor", description: "must be greater than 0" }]);
    }
    const { payment } = await this.#deps.store.beginCharge({
      id: this.#newId(),
      orderId: input.orderId,
      userId: input.userId,
      amount: input.amount,
      paymentMethod: input.paymentMethod,
      idempotencyKey: chargeIdempotencyKey(input.orderId),
      createTime: this.#now(),
    });
    if (
      payment.userId !== input.userId || payment.amount.amountMinor !== input.amount.amountMinor ||
      payment.amount.currencyCode !== input.amount.currencyCode
    ) {
      throw invalidPaymentState(
        `order ${input.orderId} was charged before with a different amount or customer`,
        {
          order_id: input.orderId,
          payment_id: payment.id,
        },
      );
    }
    return await this.#driveCharge(payment, this.#deadlineOf(options));
  }

  /**
   * Refunds what is left of an order's successful payment, once per order (the refund's key is derived
   * from the order). A PENDING charge is settled with Stripe first, so a compensation never misses money
   * taken by a charge whose answer was lost; one that Stripe is still processing is FAILED_PRECONDITION
   * PAYMENT_PROCESSING (its outcome reaches the order service as a notice, and a captured one is refunded
   * then). Returns undefined when the order has no payment.
   */
  async refundOrder(
    orderId: string,
    reason: string,
    options: CallDeadline = {},
  ): Promise<Payment | undefined> {
    const deadline = this.#deadlineOf(options);
    let payment = await this.#deps.store.findPaymentByOrder(orderId);
    if (!payment) return undefined;
    const key = orderRefundIdempotencyKey(orderId);
    const earlier = payment.refunds.find((refund) => refund.idempotencyKey === key);
    if (earlier) return await this.#driveRefund(payment, earlier, deadline);
    if (payment.chargeStatus === "pending") {
      try {
        payment = await this.#driveCharge(payment, deadline);
      } catch (error) {
        // Declined: nothing was taken, so there is nothing to give back.
        if (error instanceof DomainError && error.reason === "PAYMENT_DECLINED") {
          return await this.#deps.store.findPayment(payment.id);
        }
        throw error;
      }
      if (payment.chargeStatus === "pending") throw paymentProcessing(payment.id);
    }
    const left = refundableMinor(payment);
    if (left === 0n) return payment;
    const { refund } = await this.#deps.store.beginRefund({
      id: this.#newId(),
      paymentId: payment.id,
      amountMinor: left,
      reason,
      idempotencyKey: key,
      createTime: this.#now(),
    });
    return await this.#driveRefund(payment, refund, deadline);
  }

  /**
   * Refunds part or all of a payment (admins only; the transport checks). More than is left is
   * INVALID_ARGUMENT REFUND_EXCEEDS_PAYMENT, decided under a lock in the ledger so that concurrent refunds
   * cannot together exceed the payment.
   */
  async refundPayment(input: RefundInput, options: CallDeadline = {}): Promise<Payment> {
    const deadline = this.#deadlineOf(options);
    const payment = await this.#deps.store.findPayment(input.paymentId);
    if (!payment) throw notFound("payment", input.paymentId);
    if (input.amount) {
      if (input.amount.currencyCode !== payment.amount.currencyCode) {
        throw invalidArgument([{
          field: "amount.currency_code",
          description: `must be the payment's currency, ${payment.amount.currencyCode}`,
        }]);
      }
      if (input.amount.amountMinor <= 0n) {
        throw invalidArgument([{ field: "amount.amount_minor", description: "must be greater than 0" }]);
      }
    }
    const id = this.#newId();
    const key = refundIdempotencyKey({
      paymentId: payment.id,
      refundId: id,
      ...(input.requestId ? { requestId: input.requestId } : {}),
    });
    const earlier = payment.refunds.find((refund) => refund.idempotencyKey === key);
    if (earlier) return await this.#driveRefund(payment, earlier, deadline);
    if (payment.chargeStatus !== "succeeded") {
      throw invalidPaymentState("only a successful payment can be refunded", { payment_id: payment.id });
    }
    const { refund } = await this.#deps.store.beginRefund({
      id,
      paymentId: payment.id,
      amountMinor: input.amount?.amountMinor ?? refundableMinor(payment),
      reason: input.reason,
      idempotencyKey: key,
      createTime: this.#now(),
    });
    return await this.#driveRefund(payment, refund, deadline);
  }

  /** One payment, for its owner or an admin; anyone else gets NOT_FOUND (its existence is not revealed). */
  async payment(id: string, viewer: Viewer): Promise<Payment> {
    const payment = await this.#deps.store.findPayment(id);
    if (!payment || !mayView(viewer, payment)) throw notFound("payment", id);
    return payment;
  }

  /**
   * The payments of an order, for the order's owner (the ledger's user id) or an admin. Another user's
   * order is NOT_FOUND; an order without payments is an empty list.
   */
  async listPayments(
    orderId: string,
    viewer: Viewer,
    pageSize: number,
    after: PaymentCursor | undefined,
  ): Promise<PaymentPage> {
    const page = await this.#deps.store.listPayments(orderId, pageSize, after);
    if (page.payments.some((payment) => !mayView(viewer, payment))) throw notFound("order", orderId);
    return page;
  }

  /**
   * Applies a verified Stripe event to the ledger, once per event id. Returns false for an event seen
   * before. Events settle PENDING rows only, so they converge with the direct path whatever the order.
   */
  async applyEvent(event: PaymentEvent, options: CallDeadline = {}): Promise<boolean> {
    const effects: LedgerEffect[] = [];
    if (event.type !== "charge.refunded" && event.type !== "ignored") {
      const payment = await this.#paymentOfIntent(event.paymentIntentId, event.paymentId);
      // A charge settled already, with this PaymentIntent written down (the direct path got there
      // first, as it does for every charge that does not wait), takes nothing from the event.
      const settled = payment !== undefined && payment.chargeStatus !== "pending" &&
        payment.stripePaymentIntentId === event.paymentIntentId;
      if (payment && !settled) {
        const settlement: ChargeSettlement = event.type === "payment_intent.succeeded"
          ? { kind: "succeeded", paymentIntentId: event.paymentIntentId }
          : {
            kind: "failed",
            paymentIntentId: event.paymentIntentId,
            failureReason: event.failureReason,
            declineCode: event.declineCode,
          };
        effects.push({ kind: "charge", paymentId: payment.id, settlement });
      }
    } else if (event.type === "charge.refunded") {
      const payment = await this.#deps.store.findPaymentByIntent(event.paymentIntentId);
      const pending = new Set(payment?.refunds.filter((r) => r.status === "pending").map((r) => r.id));
      if (pending.size > 0) {
        // The event says only how much is refunded in total; which of our refunds that covers, Stripe's
        // list of refunds (each carrying our refund id in its metadata) says.
        const remaining = this.#deadlineOf(options) - this.#clock.now();
        let refunds;
        try {
          refunds = await this.#deps.gateway.listRefunds(event.paymentIntentId, {
            timeoutMs: Math.max(
              this.#policy.minAttemptMs,
              Math.min(this.#policy.attemptTimeoutMs, remaining),
            ),
          });
        } catch (error) {
          if (error instanceof GatewayUnavailableError) {
            this.#deps.onEvent?.({ type: "charge", outcome: "unavailable" });
            throw stripeUnavailable(error);
          }
          throw error;
        }
        for (const refund of refunds) {
          if (!refund.refundId || !pending.has(refund.refundId)) continue;
          if (refund.status === "succeeded") {
            effects.push({
              kind: "refund",
              refundId: refund.refundId,
              settlement: { kind: "succeeded", stripeRefundId: refund.stripeRefundId },
            });
          } else if (refund.status === "failed" || refund.status === "canceled") {
            effects.push({
              kind: "refund",
              refundId: refund.refundId,
              settlement: {
                kind: "failed",
                stripeRefundId: refund.stripeRefundId,
                failureReason: refund.failureReason,
              },
            });
          }
        }
      }
    }
    return await this.#deps.store.applyWebhookEvent(
      { id: event.id, type: event.type === "ignored" ? event.stripeType : event.type },
      effects,
      this.#now(),
    );
  }

  /**
   * Settles charges that have stayed PENDING since before `before` (their webhook was lost, or nobody
   * retried them): asks Stripe where each PaymentIntent stands, or re-sends the charge under its key when
   * Stripe's answer never reached the ledger. A charge that settles here notifies its order. Returns how
   * many were settled.
   */
  async reconcilePendingCharges(before: Date, limit = 20): Promise<number> {
    let settled = 0;
    for (const payment of await this.#deps.store.findStalePendingCharges(before, limit)) {
      const deadline = this.#deadlineOf({});
      let outcome: ChargeOutcome;
      try {
        outcome = payment.stripePaymentIntentId
          ? await this.#deps.gateway.retrieveCharge(payment.stripePaymentIntentId, {
            timeoutMs: this.#policy.attemptTimeoutMs,
          })
          : await this.#sendCharge(payment, deadline);
      } catch (error) {
        if (error instanceof GatewayUnavailableError || error instanceof GatewayRejectedError) continue;
        throw error;
      }
      const after = await this.#deps.store.settleCharge(payment.id, settlementOf(outcome), this.#now(), {
        notifyOrder: true,
      });
      if (after?.chargeStatus !== "pending") settled++;
    }
    return settled;
  }

  async #paymentOfIntent(
    paymentIntentId: string,
    paymentId: string | undefined,
  ): Promise<Payment | undefined> {
    // Our payment id travels in the PaymentIntent's metadata: it finds the row even when the intent id
    // was never written down (the crash this design repairs).
    const byId = paymentId ? await this.#deps.store.findPayment(paymentId) : undefined;
    return byId ?? await this.#deps.store.findPaymentByIntent(paymentIntentId);
  }

  async #driveCharge(payment: Payment, deadline: number): Promise<Payment> {
    if (payment.chargeStatus === "succeeded") return payment;
    if (payment.chargeStatus === "failed") {
      throw paymentDeclined(payment.declineCode, payment.failureReason, payment.id);
    }
    let outcome: ChargeOutcome;
    try {
      outcome = await this.#sendCharge(payment, deadline);
    } catch (error) {
      if (error instanceof GatewayUnavailableError) {
        this.#deps.onEvent?.({ type: "charge", outcome: "unavailable" });
        throw stripeUnavailable(error);
      }
      if (error instanceof GatewayRejectedError) {
        if (error.code === "idempotency_error") {
          throw invalidPaymentState("Stripe holds a different request under this order's charge key", {
            payment_id: payment.id,
          });
        }
        // Stripe refused the request itself (an unknown payment method, say): nothing was charged.
        this.#deps.onEvent?.({ type: "charge", outcome: "rejected" });
        await this.#settle(payment.id, {
          kind: "failed",
          paymentIntentId: undefined,
          failureReason: error.message,
          declineCode: "",
        });
        throw paymentDeclined("", error.message, payment.id);
      }
      throw error;
    }
    switch (outcome.kind) {
      case "succeeded":
        this.#deps.onEvent?.({ type: "charge", outcome: "succeeded" });
        return await this.#settle(payment.id, outcome);
      case "processing":
        this.#deps.onEvent?.({ type: "charge", outcome: "pending" });
        return await this.#settle(payment.id, { kind: "pending", paymentIntentId: outcome.paymentIntentId });
      case "declined":
      case "requires_action": {
        const decline = outcome.kind === "declined" ? outcome : authenticationRequired;
        const settled = await this.#settle(payment.id, {
          kind: "failed",
          paymentIntentId: outcome.paymentIntentId,
          failureReason: decline.message,
          declineCode: decline.declineCode,
        });
        this.#deps.onEvent?.({
          type: "charge",
          outcome: settled.chargeStatus === "succeeded" ? "succeeded" : "declined",
        });
        if (settled.chargeStatus === "succeeded") return settled;
        throw paymentDeclined(settled.declineCode, settled.failureReason, payment.id);
      }
    }
  }

  /** Sends the charge to Stripe under the payment's key, retried within the deadline. */
  async #sendCharge(payment: Payment, deadline: number): Promise<ChargeOutcome> {
    return await retryWithinDeadline(
      (timeoutMs) =>
        this.#deps.gateway.charge({
          amount: payment.amount,
          paymentMethod: payment.paymentMethod,
          metadata: { payment_id: payment.id, order_id: payment.orderId, user_id: payment.userId },
        }, { idempotencyKey: payment.idempotencyKey, timeoutMs }),
      deadline,
      this.#policy,
      this.#clock,
    );
  }

  async #settle(paymentId: string, settlement: ChargeSettlement): Promise<Payment> {
    const settled = await this.#deps.store.settleCharge(paymentId, settlement, this.#now());
    if (!settled) throw new Error(`payment ${paymentId} vanished from the ledger`);
    return settled;
  }

  async #driveRefund(payment: Payment, refund: Refund, deadline: number): Promise<Payment> {
    const current = async () => {
      const found = await this.#deps.store.findPayment(payment.id);
      if (!found) throw new Error(`payment ${payment.id} vanished from the ledger`);
      return found;
    };
    if (refund.status !== "pending") return await current();
    const paymentIntentId = payment.stripePaymentIntentId;
    if (!paymentIntentId) throw new Error(`payment ${payment.id} succeeded without a PaymentIntent id`);
    try {
      const answer = await retryWithinDeadline(
        (timeoutMs) =>
          this.#deps.gateway.refund(
            {
              paymentIntentId,
              amountMinor: refund.amountMinor,
              metadata: { refund_id: refund.id, payment_id: payment.id },
            },
            { idempotencyKey: refund.idempotencyKey, timeoutMs },
          ),
        deadline,
        this.#policy,
        this.#clock,
      );
      if (answer.status === "succeeded") {
        await this.#deps.store.settleRefund(refund.id, {
          kind: "succeeded",
          stripeRefundId: answer.stripeRefundId,
        }, this.#now());
      } else if (answer.status === "failed" || answer.status === "canceled") {
        await this.#deps.store.settleRefund(refund.id, {
          kind: "failed",
          stripeRefundId: answer.stripeRefundId,
          failureReason: answer.failureReason,
        }, this.#now());
        throw invalidPaymentState(`the refund failed: ${answer.failureReason}`, { refund_id: refund.id });
      }
      // pending / requires_action: the refund stays PENDING (its amount reserved) until a webhook settles it.
      return await current();
    } catch (error) {
      if (error instanceof GatewayUnavailableError) {
        this.#deps.onEvent?.({ type: "charge", outcome: "unavailable" });
        throw stripeUnavailable(error);
      }
      if (error instanceof GatewayRejectedError) {
        await this.#deps.store.settleRefund(refund.id, {
          kind: "failed",
          stripeRefundId: undefined,
          failureReason: error.message,
        }, this.#now());
        if (error.code === "amount_too_large" || error.code === "charge_already_refunded") {
          throw refundExceedsPayment(refundableMinor(await current()));
        }
        throw invalidPaymentState(`Stripe refused the refund: ${error.message}`, { refund_id: refund.id });
      }
      throw error;
    }
  }

  #deadlineOf(options: CallDeadline): number {
    const deadline = options.deadline ?? this.#clock.now() + (this.#deps.defaultDeadlineMs ?? 20_000);
    return deadline - (this.#deps.settleReserveMs ?? 300);
  }
}

/** What the ledger records for Stripe's answer about a charge. */
function settlementOf(outcome: ChargeOutcome): ChargeSettlement {
  switch (outcome.kind) {
    case "succeeded":
      return outcome;
    case "processing":
      return { kind: "pending", paymentIntentId: outcome.paymentIntentId };
    case "declined":
      return {
        kind: "failed",
        paymentIntentId: outcome.paymentIntentId,
        failureReason: outcome.message,
        declineCode: outcome.declineCode,
      };
    case "requires_action":
      return {
        kind: "failed",
        paymentIntentId: outcome.paymentIntentId,
        failureReason: authenticationRequired.message,
        declineCode: authenticationRequired.declineCode,
      };
  }
}

function mayView(viewer: Viewer, payment: Payment): boolean {
  return viewer.role === "admin" || payment.userId === viewer.id;
}
