/**
 * Fakes of the notification service's ports for fast tests, and a sample order event.
 *
 * @module
 */
import type { Email } from "../domain/order_email.ts";
import type { CustomerContact, OrderEvent } from "../domain/order_event.ts";
import type { Contacts, Mailer, SendOutcome } from "../domain/ports.ts";

/**
 * A mail server that keeps what it takes; `mode` makes it refuse, or break after the message's end.
 *
 * @example
 * ```ts
 * const mailer = new FakeMailer();
 * mailer.mode = "down";
 * ```
 */
export class FakeMailer implements Mailer {
  taken: Array<{ email: Email; messageId: string }> = [];
  mode: "up" | "down" | "breaks_after_end" = "up";

  /** Sends as the mode says. */
  async send(
    email: Email,
    options: { messageId: string; beforeCommit: () => Promise<boolean> },
  ): Promise<SendOutcome> {
    if (this.mode === "down") return "not_sent";
    if (!await options.beforeCommit()) return "not_sent";
    this.taken.push({ email, messageId: options.messageId });
    return this.mode === "breaks_after_end" ? "unknown" : "accepted";
  }
}

/**
 * Customers by user id.
 *
 * @example
 * ```ts
 * const contacts = new FakeContacts({ "u-1": { email: "ada@example.com", displayName: "Ada" } });
 * ```
 */
export class FakeContacts implements Contacts {
  #known: Record<string, CustomerContact>;
  /** Makes it answer with a fixed table. */
  constructor(known: Record<string, CustomerContact>) {
    this.#known = known;
  }
  /** The contact, if known. */
  contactOf(userId: string): Promise<CustomerContact | undefined> {
    return Promise.resolve(this.#known[userId]);
  }
}

/**
 * A PAID event of a two-line order for `userId`.
 *
 * @example
 * ```ts
 * const event = paidEvent("u-1");
 * ```
 */
export function paidEvent(userId: string, overrides: Partial<OrderEvent> = {}): OrderEvent {
  return {
    id: crypto.randomUUID(),
    orderId: crypto.randomUUID(),
    userId,
    sequence: 1,
    type: "status_changed",
    time: new Date("2026-11-29T12:00:00Z"),
    status: "paid",
    reason: "payment captured",
    lines: [
      { name: "Kettle", quantity: 2, unitPrice: { currencyCode: "USD", amountMinor: 1999n } },
      { name: "Mug", quantity: 1, unitPrice: { currencyCode: "USD", amountMinor: 450n } },
    ],
    total: { currencyCode: "USD", amountMinor: 4448n },
    shipTo: {
      name: "Ada",
      line1: "1 Main St",
      line2: "",
      city: "Berlin",
      postalCode: "10115",
      country: "DE",
    },
    refunded: undefined,
    ...overrides,
  };
}
