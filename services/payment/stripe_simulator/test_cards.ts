/**
 * Stripe's documented test-mode PaymentMethods (https://docs.stripe.com/testing) and what confirming a
 * PaymentIntent with each of them does. DEV/TEST TOOL: part of the Stripe simulator, never used by the
 * payment service itself.
 *
 * @module
 */

/** What confirming with a test PaymentMethod does. */
export type CardOutcome =
  | { kind: "succeeds"; brand: string }
  | { kind: "declined"; code: string; declineCode: string; message: string }
  | { kind: "requires_action" }
  /**
   * Stripe answers `processing` at once; the outcome comes later, as a webhook event (the simulator's own
   * test cards, standing in for payment methods such as bank debits that settle after the call).
   */
  | { kind: "processing"; settles: "succeeds" | "fails" }
  | { kind: "unknown" };

/** PaymentMethods that succeed, by brand. */
const succeeding: Record<string, string> = {
  pm_card_visa: "visa",
  pm_card_visa_debit: "visa",
  pm_card_mastercard: "mastercard",
  pm_card_mastercard_debit: "mastercard",
  pm_card_mastercard_prepaid: "mastercard",
  pm_card_amex: "amex",
  pm_card_discover: "discover",
  pm_card_diners: "diners",
  pm_card_jcb: "jcb",
  pm_card_unionpay: "unionpay",
  pm_card_us: "visa",
  pm_card_ca: "visa",
  pm_card_gb: "visa",
  pm_card_de: "visa",
  pm_card_fr: "visa",
  pm_card_bypassPending: "visa",
  pm_card_bypassPendingInternational: "visa",
};

const generic = "Your card was declined.";

/** Declines by the suffix after `chargeDeclined`: [error code, decline code, message]. */
const declines: Record<string, [string, string, string]> = {
  "": ["card_declined", "generic_decline", generic],
  InsufficientFunds: ["card_declined", "insufficient_funds", "Your card has insufficient funds."],
  LostCard: ["card_declined", "lost_card", generic],
  StolenCard: ["card_declined", "stolen_card", generic],
  Fraudulent: ["card_declined", "fraudulent", generic],
  VelocityLimitExceeded: ["card_declined", "card_velocity_exceeded", generic],
  ExpiredCard: ["expired_card", "expired_card", "Your card has expired."],
  IncorrectCvc: ["incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."],
  ProcessingError: [
    "processing_error",
    "processing_error",
    "An error occurred while processing your card. Try again in a little bit.",
  ],
};

/** Cards that need 3-D Secure before they can be charged. */
const needingAuthentication = new Set([
  "pm_card_authenticationRequired",
  "pm_card_authenticationRequiredOnSetup",
  "pm_card_threeDSecure2Required",
  "pm_card_threeDSecureRequired",
]);

/**
 * The simulator's own test PaymentMethods for payments that settle after the call (ARCHITECTURE.md
 * section 7); Stripe's test mode reaches the same states with its delayed-notification methods.
 */
const processing: Record<string, "succeeds" | "fails"> = {
  pm_card_processing_succeeds: "succeeds",
  pm_card_processing_fails: "fails",
};

/**
 * What confirming a PaymentIntent with `paymentMethod` does in Stripe's test mode:
 * `pm_card_chargeDeclined<Reason>` and `pm_card_visa_chargeDeclined<Reason>` decline,
 * `pm_card_authenticationRequired` and the 3-D Secure cards need authentication, the brand cards succeed,
 * and `pm_card_processing_succeeds` / `pm_card_processing_fails` answer `processing` and settle later.
 *
 * @example
 * ```ts
 * cardOutcome("pm_card_chargeDeclinedInsufficientFunds");
 * // { kind: "declined", code: "card_declined", declineCode: "insufficient_funds", message: "Your card has insufficient funds." }
 * ```
 */
export function cardOutcome(paymentMethod: string): CardOutcome {
  const brand = succeeding[paymentMethod];
  if (brand) return { kind: "succeeds", brand };
  if (needingAuthentication.has(paymentMethod)) return { kind: "requires_action" };
  const settles = processing[paymentMethod];
  if (settles) return { kind: "processing", settles };
  const match = /^pm_card_(?:visa_)?chargeDeclined(\w*)$/.exec(paymentMethod);
  const decline = match ? declines[match[1] ?? ""] : undefined;
  if (decline) return { kind: "declined", code: decline[0], declineCode: decline[1], message: decline[2] };
  return { kind: "unknown" };
}
