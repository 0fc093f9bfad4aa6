/**
 * What a payment is: one charge of an order, with the refunds made against it, and the rules that follow
 * from the amounts (what is left to refund, which status a payment shows).
 *
 * @module
 */

/** An amount of money in integer minor units (cents for USD) and an ISO 4217 currency code. */
export interface Money {
  /** Three upper-case letters, for example `USD`. */
  currencyCode: string;
  /** Never negative; never a float. */
  amountMinor: bigint;
}

/** Where the charge itself stands at Stripe, as far as the ledger knows. */
export type ChargeStatus = "pending" | "succeeded" | "failed";

/** Where a refund stands. A pending refund already counts against what is left to refund. */
export type RefundStatus = "pending" | "succeeded" | "failed";

/** The status a payment shows: the charge status, refined by its successful refunds. */
export type PaymentStatus = "pending" | "succeeded" | "failed" | "partially_refunded" | "refunded";

/** Money sent back from a payment. */
export interface Refund {
  id: string;
  paymentId: string;
  amountMinor: bigint;
  reason: string;
  /** The Stripe Idempotency-Key of the refund, written before Stripe is called. */
  idempotencyKey: string;
  status: RefundStatus;
  /** Stripe's id (`re_...`), once Stripe has answered. */
  stripeRefundId: string | undefined;
  failureReason: string;
  createTime: Date;
  updateTime: Date;
}

/** One charge of an order, as the ledger records it. */
export interface Payment {
  id: string;
  orderId: string;
  /** The customer the order belongs to: decides who may see the payment. */
  userId: string;
  amount: Money;
  /** A Stripe PaymentMethod id such as `pm_card_visa`; never card data. */
  paymentMethod: string;
  /** The Stripe Idempotency-Key of the charge, written before Stripe is called. */
  idempotencyKey: string;
  chargeStatus: ChargeStatus;
  /** Stripe's PaymentIntent (`pi_...`), once Stripe has answered. */
  stripePaymentIntentId: string | undefined;
  /** When the charge failed: why, in words. */
  failureReason: string;
  /** When the charge was declined: Stripe's decline code, for example `insufficient_funds`. */
  declineCode: string;
  /** Every refund, oldest first, whatever its status. */
  refunds: Refund[];
  createTime: Date;
  updateTime: Date;
}

/**
 * The Stripe Idempotency-Key of an order's charge. Derived from the order alone, so every retry of a
 * charge (a retried call, a resumed saga, a second instance) sends Stripe the same key and Stripe answers
 * with the first PaymentIntent instead of creating another.
 *
 * @example
 * ```ts
 * chargeIdempotencyKey("0b6b5f7e-9a51-4c8e-9d1f-3c2a1d4e5f60"); // "shop-charge-order-0b6b5f7e-..."
 * ```
 */
export function chargeIdempotencyKey(orderId: string): string {
  return `shop-charge-order-${orderId}`;
}

/**
 * The Idempotency-Key of a refund: from the caller's request id when there is one (so a retried call
 * refunds once), else from the refund's own id (each call is a new refund).
 *
 * @example
 * ```ts
 * refundIdempotencyKey({ paymentId: "p-1", requestId: "r-1" }); // "shop-refund-payment-p-1-request-r-1"
 * ```
 */
export function refundIdempotencyKey(
  input: { paymentId: string; requestId?: string; refundId?: string },
): string {
  if (input.requestId) return `shop-refund-payment-${input.paymentId}-request-${input.requestId}`;
  return `shop-refund-${input.refundId ?? crypto.randomUUID()}`;
}

/**
 * The Idempotency-Key of the one "refund the rest" an order's cancellation or compensation makes.
 *
 * @example
 * ```ts
 * orderRefundIdempotencyKey("o-1"); // "shop-refund-order-o-1"
 * ```
 */
export function orderRefundIdempotencyKey(orderId: string): string {
  return `shop-refund-order-${orderId}`;
}

/**
 * The sum of a payment's successful refunds: what went back to the customer.
 *
 * @example
 * ```ts
 * declare const payment: Payment;
 * refundedMinor(payment); // 500n
 * ```
 */
export function refundedMinor(payment: Payment): bigint {
  return payment.refunds.reduce((sum, r) => r.status === "succeeded" ? sum + r.amountMinor : sum, 0n);
}

/**
 * What may still be refunded: the captured amount less every refund that succeeded or may still
 * succeed (pending ones count, so two refunds in flight can never together exceed the payment).
 *
 * @example
 * ```ts
 * declare const payment: Payment;
 * refundableMinor(payment); // 1499n
 * ```
 */
export function refundableMinor(payment: Payment): bigint {
  if (payment.chargeStatus !== "succeeded") return 0n;
  const committed = payment.refunds.reduce((sum, r) => r.status === "failed" ? sum : sum + r.amountMinor, 0n);
  return payment.amount.amountMinor - committed;
}

/**
 * The status a payment shows.
 *
 * @example
 * ```ts
 * declare const payment: Payment;
 * paymentStatusOf(payment); // "partially_refunded"
 * ```
 */
export function paymentStatusOf(payment: Payment): PaymentStatus {
  if (payment.chargeStatus !== "succeeded") return payment.chargeStatus;
  const refunded = refundedMinor(payment);
  if (refunded === 0n) return "succeeded";
  return refunded >= payment.amount.amountMinor ? "refunded" : "partially_refunded";
}
