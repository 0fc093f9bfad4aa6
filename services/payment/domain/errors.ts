/**
 * The payment rules' failures, as the caller sees them.
 *
 * @module
 */
import { DomainError } from "@shop/platform/errors";

/**
 * The card issuer declined the charge; `decline_code` in the metadata says why.
 *
 * @example
 * ```ts
 * throw paymentDeclined("insufficient_funds", "Your card has insufficient funds.", "p-1");
 * ```
 */
export function paymentDeclined(declineCode: string, message: string, paymentId: string): DomainError {
  return new DomainError("failed_precondition", "PAYMENT_DECLINED", `payment declined: ${message}`, {
    metadata: { decline_code: declineCode, payment_id: paymentId },
  });
}

/**
 * A refund asked for more than is left of the payment.
 *
 * @example
 * ```ts
 * throw refundExceedsPayment(500n);
 * ```
 */
export function refundExceedsPayment(refundableMinor: bigint): DomainError {
  return new DomainError(
    "invalid_argument",
    "REFUND_EXCEEDS_PAYMENT",
    `the refund exceeds what is left of the payment (${refundableMinor} minor units)`,
    {
      metadata: { refundable_minor: String(refundableMinor) },
      fields: [{ field: "amount", description: `must be at most ${refundableMinor} minor units` }],
    },
  );
}

/**
 * The payment is not in a state that allows the change (a refund of a failed charge, an order charged
 * before with a different amount).
 *
 * @example
 * ```ts
 * throw invalidPaymentState("only a successful payment can be refunded");
 * ```
 */
export function invalidPaymentState(message: string, metadata: Record<string, string> = {}): DomainError {
  return new DomainError("failed_precondition", "INVALID_STATE", message, { metadata });
}

/**
 * Stripe did not answer in time (or kept failing): the payment stays PENDING and the same call, retried,
 * settles it without charging twice.
 *
 * @example
 * ```ts
 * throw stripeUnavailable(new Error("timeout"));
 * ```
 */
export function stripeUnavailable(cause: unknown): DomainError {
  return new DomainError(
    "unavailable",
    "DEPENDENCY_UNAVAILABLE",
    "the payment processor is unavailable; retry the same call later",
    { retryAfterMs: 1_000, cause },
  );
}

/**
 * The payment processor has not decided yet (Stripe's `processing`): a refund must wait for the outcome.
 *
 * @example
 * ```ts
 * throw paymentProcessing("p-1");
 * ```
 */
export function paymentProcessing(paymentId: string): DomainError {
  return new DomainError(
    "failed_precondition",
    "PAYMENT_PROCESSING",
    "the payment is still processing; it can be refunded once it is captured",
    { metadata: { payment_id: paymentId } },
  );
}
