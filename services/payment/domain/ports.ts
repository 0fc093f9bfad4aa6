/**
 * What the payment rules need from the outside world: the ledger and the payment processor (Stripe).
 * Owned here so that adapters depend on the domain and never the other way round.
 *
 * @module
 */
import type { Money, Payment, Refund } from "./payment.ts";

/** A payment about to be sent to Stripe: written PENDING before the call. */
export type NewPayment = Omit<
  Payment,
  "chargeStatus" | "stripePaymentIntentId" | "failureReason" | "declineCode" | "refunds" | "updateTime"
>;

/** A refund about to be sent to Stripe: written PENDING before the call, reserving its amount. */
export type NewRefund = Omit<Refund, "status" | "stripeRefundId" | "failureReason" | "updateTime">;

/** What Stripe said about a charge, as the ledger records it. */
export type ChargeSettlement =
  | { kind: "succeeded"; paymentIntentId: string }
  | { kind: "failed"; paymentIntentId: string | undefined; failureReason: string; declineCode: string }
  /** Stripe has the PaymentIntent but no final answer yet (a webhook or a retry settles it). */
  | { kind: "pending"; paymentIntentId: string };

/** What Stripe said about a refund. */
export type RefundSettlement =
  | { kind: "succeeded"; stripeRefundId: string }
  | { kind: "failed"; stripeRefundId: string | undefined; failureReason: string };

/** A position in a list of payments: after this one. */
export interface PaymentCursor {
  createTime: Date;
  id: string;
}

/** One page of payments. */
export interface PaymentPage {
  payments: Payment[];
  next: PaymentCursor | undefined;
}

/**
 * The order service must hear how a charge that was still processing ended: the payment's outbox row,
 * written in the same transaction as the settlement and repeated until the order service acknowledges it.
 */
export interface OrderNotice {
  paymentId: string;
  orderId: string;
  outcome: "succeeded" | "failed";
  /** Why the payment failed, for the customer (empty when it succeeded). */
  failureReason: string;
  /** Delivery attempts that failed so far. */
  attempts: number;
  createTime: Date;
  /** The W3C `traceparent` of the work that settled the charge (none when it was not traced). */
  traceParent?: string | undefined;
}

/** One change a Stripe webhook event makes to the ledger. */
export type LedgerEffect =
  | { kind: "charge"; paymentId: string; settlement: ChargeSettlement }
  | { kind: "refund"; refundId: string; settlement: RefundSettlement };

/** The payment ledger. */
export interface PaymentStore {
  /**
   * Writes a PENDING payment unless the order has one already (the order id is unique: the database,
   * not a check-then-insert, decides between concurrent charges); returns the order's payment either way.
   */
  beginCharge(payment: NewPayment): Promise<{ payment: Payment; created: boolean }>;
  /**
   * Records Stripe's answer. Only a PENDING charge changes (a settled one keeps its outcome, so a late
   * webhook and a retry converge); the payment intent id is recorded whenever it was missing. With
   * `notifyOrder`, a charge that leaves PENDING here also gets its {@linkcode OrderNotice}, in the same
   * transaction.
   */
  settleCharge(
    paymentId: string,
    settlement: ChargeSettlement,
    now: Date,
    options?: { notifyOrder?: boolean },
  ): Promise<Payment | undefined>;
  findPayment(id: string): Promise<Payment | undefined>;
  findPaymentByOrder(orderId: string): Promise<Payment | undefined>;
  findPaymentByIntent(paymentIntentId: string): Promise<Payment | undefined>;
  /** The payments of an order, oldest first, paged. */
  listPayments(orderId: string, pageSize: number, after: PaymentCursor | undefined): Promise<PaymentPage>;
  /**
   * Writes a PENDING refund, reserving its amount against the payment under a lock, unless a refund with
   * the same idempotency key exists (then that one comes back, and nothing is reserved again). More than
   * is left throws REFUND_EXCEEDS_PAYMENT; a payment that did not succeed throws INVALID_STATE.
   */
  beginRefund(refund: NewRefund): Promise<{ refund: Refund; created: boolean }>;
  /** Records Stripe's answer about a PENDING refund; a failed one frees its reserved amount. */
  settleRefund(refundId: string, settlement: RefundSettlement, now: Date): Promise<void>;
  /**
   * Applies the effects of a webhook event once: the event id is stored in the same transaction, and an
   * event seen before changes nothing. Returns false for an event seen before. A charge that leaves
   * PENDING here gets its {@linkcode OrderNotice} in the same transaction (the order is waiting for it).
   */
  applyWebhookEvent(
    event: { id: string; type: string },
    effects: LedgerEffect[],
    now: Date,
  ): Promise<boolean>;
  /**
   * Takes up to `limit` undelivered notices that are due at `now`, oldest first, and hides them from
   * other takers until `until` (so instances share the work and a crashed taker's notices come back).
   */
  claimOrderNotices(now: Date, until: Date, limit: number): Promise<OrderNotice[]>;
  /** The order service acknowledged these notices (by payment id): they are never sent again. */
  markOrderNoticesDelivered(paymentIds: readonly string[], now: Date): Promise<void>;
  /** Delivery failed: counts the attempt and makes the notice due again at `at`. */
  retryOrderNoticeAt(paymentId: string, at: Date): Promise<void>;
  /** Deletes notices delivered before `before`; returns how many. */
  purgeDeliveredOrderNotices(before: Date): Promise<number>;
  /** Charges still PENDING that were last changed before `before`, oldest first (to ask Stripe about). */
  findStalePendingCharges(before: Date, limit: number): Promise<Payment[]>;
}

/** Stripe is unreachable, timed out, or answered 5xx / 409 / 429: the same call may be retried. */
export class GatewayUnavailableError extends Error {
  override name = "GatewayUnavailableError";
  /**
   * False when retrying within this call cannot help (Stripe refused our credentials: an operator must
   * act), though the payment's outcome is still unknown and a later call may settle it.
   */
  readonly retryable: boolean;
  /** Wraps the underlying failure. */
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable ?? true;
  }
}

/** Stripe refused the request for good (4xx other than a decline): retrying the same call cannot help. */
export class GatewayRejectedError extends Error {
  override name = "GatewayRejectedError";
  /** Stripe's error code (`amount_too_large`, `resource_missing`, `idempotency_error`, ...). */
  readonly code: string;
  /** The request parameter at fault, when Stripe named one. */
  readonly param: string | undefined;
  /** Wraps Stripe's refusal. */
  constructor(message: string, options: { code: string; param?: string; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.param = options.param;
  }
}

/** What to charge: a PaymentIntent created and confirmed in one call. */
export interface ChargeRequest {
  amount: Money;
  paymentMethod: string;
  /** Copied to the PaymentIntent's metadata, so webhooks and Stripe's dashboard lead back to the ledger. */
  metadata: { payment_id: string; order_id: string; user_id: string };
}

/** Stripe's answer to a charge. */
export type ChargeOutcome =
  | { kind: "succeeded"; paymentIntentId: string }
  | { kind: "declined"; paymentIntentId: string | undefined; declineCode: string; message: string }
  /** The card needs the customer to authenticate (3-D Secure); a backend-only charge cannot do that. */
  | { kind: "requires_action"; paymentIntentId: string }
  /** Accepted but not final (`processing`): a webhook says how it ends. */
  | { kind: "processing"; paymentIntentId: string };

/** What to refund. */
export interface RefundRequest {
  paymentIntentId: string;
  amountMinor: bigint;
  metadata: { refund_id: string; payment_id: string };
}

/** A refund as Stripe reports it. */
export interface GatewayRefund {
  stripeRefundId: string;
  /** Our refund id, from the refund's metadata (absent for refunds made elsewhere, e.g. the dashboard). */
  refundId: string | undefined;
  amountMinor: bigint;
  status: "pending" | "succeeded" | "failed" | "canceled" | "requires_action";
  failureReason: string;
}

/** Per-call options: every call carries its idempotency key (for writes) and a timeout. */
export interface CallOptions {
  idempotencyKey: string;
  timeoutMs: number;
}

/**
 * The payment processor. The Stripe SDK adapter implements it for real Stripe and for the test-mode
 * simulator alike; handler tests use a fake.
 */
export interface PaymentGateway {
  /** Creates and confirms a PaymentIntent. Throws {@linkcode GatewayUnavailableError} or {@linkcode GatewayRejectedError}. */
  charge(request: ChargeRequest, options: CallOptions): Promise<ChargeOutcome>;
  /** Refunds part or all of a PaymentIntent. */
  refund(request: RefundRequest, options: CallOptions): Promise<GatewayRefund>;
  /** Every refund of a PaymentIntent, to reconcile the ledger after a `charge.refunded` event. */
  listRefunds(paymentIntentId: string, options: { timeoutMs: number }): Promise<GatewayRefund[]>;
  /** Where a PaymentIntent stands now, to settle a charge whose webhook never came. */
  retrieveCharge(paymentIntentId: string, options: { timeoutMs: number }): Promise<ChargeOutcome>;
}

/** A verified Stripe event, reduced to what the ledger needs. */
export type PaymentEvent =
  | { id: string; type: "payment_intent.succeeded"; paymentIntentId: string; paymentId: string | undefined }
  | {
    id: string;
    /** A charge that failed or was cancelled: nothing was captured. */
    type: "payment_intent.payment_failed" | "payment_intent.canceled";
    paymentIntentId: string;
    paymentId: string | undefined;
    declineCode: string;
    failureReason: string;
  }
  | { id: string; type: "charge.refunded"; paymentIntentId: string }
  /** Any other type: acknowledged and ignored. */
  | { id: string; type: "ignored"; stripeType: string };

/**
 * The order service, as the payment rules see it: told how a charge that was processing ended. Throws
 * when the order service did not take it (the notice is sent again later).
 */
export interface OrderOutcomes {
  recordPaymentOutcome(notice: OrderNotice, options: { timeoutMs: number }): Promise<void>;
}

/** Thrown when a webhook's signature does not verify. */
export class InvalidSignatureError extends Error {
  override name = "InvalidSignatureError";
}

/** Verifies webhook signatures (`Stripe-Signature`) over the raw body bytes. */
export interface WebhookVerifier {
  /** The event, or {@linkcode InvalidSignatureError}. */
  verify(rawBody: Uint8Array, signatureHeader: string): Promise<PaymentEvent>;
}
