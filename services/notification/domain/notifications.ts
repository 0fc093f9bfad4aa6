/**
 * The notification use case: one email per order event, never two. The exact guarantee, given that an
 * SMTP server cannot be asked whether it has a message:
 *
 * - An event's email is recorded `preparing` before the mail server is contacted, `committing` just
 *   before the end of the message (SMTP's final `.`) is sent, and `sent` when the server answers 250.
 *   Only after `sent` is the delivery acknowledged to the relay.
 * - A server that is down, or refuses the message (before or after its end), leaves it unsent: it goes
 *   back to `preparing`, the call fails UNAVAILABLE and the relay retries with backoff. Nothing is lost.
 * - A sender that dies before `committing` sent no complete message (a server discards a transaction
 *   whose end never came): the next delivery, once the hold expires, sends it.
 * - A sender that dies (or whose connection breaks) between `committing` and `sent` may or may not have
 *   had it taken: the email is never sent again and is recorded `unconfirmed` (logged, and findable by
 *   its Message-ID, `<event id@shop.notification>`, in the mail server's logs). So: exactly once, except
 *   in that window of one round trip, where it is at most once. Never twice.
 * - Duplicate deliveries at the same time: one holds the email, the other is told to retry later.
 *
 * @module
 */
import { type Email, orderEmail } from "./order_email.ts";
import type { OrderEvent } from "./order_event.ts";
import {
  type Contacts,
  dependencyUnavailable,
  emailInProgress,
  type Mailer,
  type SentEmailStore,
} from "./ports.ts";

/** What {@linkcode Notifications} is built from. */
export interface NotificationsDeps {
  store: SentEmailStore;
  contacts: Contacts;
  mailer: Mailer;
  /** This process's id, the owner name of its holds. */
  instanceId: string;
  /** How long a sender holds an email before another delivery may take it (longer than a send: 60 s). */
  holdMs?: number;
  /** TEST ONLY: called when the server has taken a message, before it is recorded `sent`. */
  afterAccepted?: () => void | Promise<void>;
  now?: () => Date;
}

/** What one delivery came to, for logs and metrics. */
export type NotifyOutcome = "sent" | "already_sent" | "unconfirmed" | "no_customer";

/** The domain of the Message-ID of every order email. */
export const messageIdDomain = "shop.notification";

/**
 * Emails customers about their orders' events.
 *
 * @example
 * ```ts
 * declare const deps: NotificationsDeps;
 * declare const event: OrderEvent;
 * await new Notifications(deps).notify(event); // "sent", or "already_sent" on a repeat
 * ```
 */
export class Notifications {
  #deps: NotificationsDeps;
  #now: () => Date;

  /** Creates the use case over its ports. */
  constructor(deps: NotificationsDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
  }

  /**
   * Sends the event's email unless it was sent before. Throws UNAVAILABLE when the email cannot go now
   * (mail server or user service down) and ABORTED while another delivery sends it: the caller (the
   * relay) tries again later.
   */
  async notify(event: OrderEvent): Promise<NotifyOutcome> {
    const { store, contacts, mailer } = this.#deps;
    const now = this.#now();
    const hold = {
      owner: `${this.#deps.instanceId}/${crypto.randomUUID()}`,
      until: new Date(now.getTime() + (this.#deps.holdMs ?? 60_000)),
    };
    // The hold first: it also tells an email sent before, so a repeated event costs one statement.
    const begun = await store.begin(event.id, event.orderId, hold, now);
    if (begun === "done") return "already_sent";
    if (begun === "busy") throw emailInProgress(event.id);
    let customer;
    try {
      customer = await contacts.contactOf(event.userId);
    } catch (error) {
      await store.abandon(event.id, hold.owner);
      throw error;
    }
    if (!customer) {
      await store.abandon(event.id, hold.owner);
      return "no_customer";
    }
    const email: Email = orderEmail(event, customer);
    let outcome;
    try {
      outcome = await mailer.send(email, {
        messageId: `<${event.id}@${messageIdDomain}>`,
        beforeCommit: () => store.committing(event.id, hold.owner),
      });
    } catch (error) {
      await store.abandon(event.id, hold.owner);
      throw error;
    }
    if (outcome === "not_sent") {
      await store.abandon(event.id, hold.owner);
      throw dependencyUnavailable("the mail server did not take the email");
    }
    if (outcome === "unknown") {
      await store.unconfirmed(event.id, this.#now());
      return "unconfirmed";
    }
    await this.#deps.afterAccepted?.();
    await store.sent(event.id, this.#now());
    return "sent";
  }
}
