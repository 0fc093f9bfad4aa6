/**
 * The email a customer gets for an order event: what happened, the order's lines and amounts, where it
 * ships, and what happens next.
 *
 * @module
 */
import type { CustomerContact, Money, OrderEvent } from "./order_event.ts";

/** An email, ready for the mailer. */
export interface Email {
  to: string;
  toName: string;
  subject: string;
  /** Plain text. */
  text: string;
}

/** The headline and the next step of each kind of event. */
const wording: Record<string, { subject: string; next: string }> = {
  paid: {
    subject: "Your order is confirmed",
    next: "We are packing your order and will email you again when it ships.",
  },
  awaiting_payment: {
    subject: "We are waiting for your payment",
    next:
      "Your bank has not confirmed the payment yet. Your items are held for you; we will email you as soon as the payment is through.",
  },
  failed: {
    subject: "Your order could not be completed",
    next: "Nothing was charged, or any charge will be refunded. You can place the order again at any time.",
  },
  cancelled: {
    subject: "Your order was cancelled",
    next: "If you were charged, the money is refunded to your original payment method.",
  },
  shipped: {
    subject: "Your order is on its way",
    next: "It is with the carrier now; we will email you when it is delivered.",
  },
  delivered: {
    subject: "Your order was delivered",
    next: "We hope you enjoy it. Thank you for shopping with us.",
  },
  refunded: {
    subject: "Your refund is on its way",
    next: "Refunds usually reach your account within 5 to 10 business days.",
  },
  pending: { subject: "We received your order", next: "We are processing it now." },
};

/**
 * An amount as a customer reads it: `USD 39.98`.
 *
 * @example
 * ```ts
 * formatMoney({ currencyCode: "USD", amountMinor: 3998n }); // "USD 39.98"
 * ```
 */
export function formatMoney(money: Money): string {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency: money.currencyCode })
    .resolvedOptions().maximumFractionDigits ?? 2;
  const scale = 10n ** BigInt(digits);
  const sign = money.amountMinor < 0n ? "-" : "";
  const abs = money.amountMinor < 0n ? -money.amountMinor : money.amountMinor;
  const fraction = digits > 0 ? `.${(abs % scale).toString().padStart(digits, "0")}` : "";
  return `${money.currencyCode} ${sign}${abs / scale}${fraction}`;
}

/**
 * The email for one event.
 *
 * @example
 * ```ts
 * declare const event: OrderEvent;
 * const email = orderEmail(event, { email: "ada@example.com", displayName: "Ada" });
 * email.subject; // "Your order is confirmed" for a PAID event
 * ```
 */
export function orderEmail(event: OrderEvent, customer: CustomerContact): Email {
  const kind = event.type === "refunded" ? "refunded" : event.status;
  const words = wording[kind] ?? { subject: `Your order is ${kind}`, next: "" };
  const shortId = event.orderId.slice(0, 8);
  const lines = event.lines.map((line) =>
    `  ${line.quantity} x ${line.name || "item"}${
      line.unitPrice ? `  ${formatMoney(line.unitPrice)} each` : ""
    }`
  );
  const address = event.shipTo;
  const text = [
    `Hello ${customer.displayName || "there"},`,
    "",
    `${words.subject}.`,
    "",
    `Order ${event.orderId}`,
    `Status: ${event.status.toUpperCase().replace("_", " ")}${event.reason ? ` (${event.reason})` : ""}`,
    ...event.refunded ? [`Refunded: ${formatMoney(event.refunded)}`] : [],
    "",
    "Items:",
    ...lines,
    ...event.total ? [`Total: ${formatMoney(event.total)}`] : [],
    "",
    "Shipping to:",
    `  ${address.name}`,
    `  ${address.line1}`,
    ...address.line2 ? [`  ${address.line2}`] : [],
    `  ${address.postalCode} ${address.city}, ${address.country}`,
    "",
    "What happens next:",
    words.next,
    "",
    "The shop",
  ].join("\n");
  return {
    to: customer.email,
    toName: customer.displayName,
    subject: `${words.subject} (order ${shortId})`,
    text,
  };
}
