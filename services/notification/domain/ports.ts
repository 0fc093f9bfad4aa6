/**
 * What sending order emails needs from the outside world, owned here: the record of emails sent (by
 * event id), the customers' contacts (user service) and the mail server (SMTP).
 *
 * @module
 */
import { DomainError } from "@shop/platform/errors";
import type { Email } from "./order_email.ts";
import type { CustomerContact } from "./order_event.ts";

/** Who is sending an event's email, until when. */
export interface Hold {
  owner: string;
  until: Date;
}

/** What {@linkcode SentEmailStore.begin} found. */
export type BeginOutcome =
  /** The caller holds the email now and may send it. */
  | "send"
  /** Sent before (or possibly sent: see `unconfirmed`); never send it again. */
  | "done"
  /** Another delivery of the same event is sending it right now. */
  | "busy";

/**
 * The record of each event's email. States: `preparing` (held by a sender that has not yet let the mail
 * server take the message), `committing` (the sender is about to send, or has sent, the end of the
 * message), `sent` (the server took it), `unconfirmed` (it may or may not have been taken: never resent).
 */
export interface SentEmailStore {
  /**
   * Takes the event's email for `hold.owner`: `send` when it is new, or `preparing` and free (its last
   * sender gave up or died before the end of the message); `done` when `sent` or `unconfirmed`, or
   * `committing` whose hold has expired (its sender died in the window: it becomes `unconfirmed`);
   * `busy` otherwise.
   */
  begin(eventId: string, orderId: string, hold: Hold, now: Date): Promise<BeginOutcome>;
  /** `preparing` -> `committing`, if `owner` still holds it; false if not (then nothing may be sent). */
  committing(eventId: string, owner: string): Promise<boolean>;
  /** The mail server took the message. */
  sent(eventId: string, now: Date): Promise<void>;
  /** The message may or may not have been taken (the connection broke after its end was sent). */
  unconfirmed(eventId: string, now: Date): Promise<void>;
  /** The server surely did not take it: free for the next delivery (back to `preparing`). */
  abandon(eventId: string, owner: string): Promise<void>;
  /** Forgets emails recorded before `before`; returns how many. */
  purge(before: Date): Promise<number>;
  /** The state of an event's email, if any (tests and operators). */
  stateOf(eventId: string): Promise<"preparing" | "committing" | "sent" | "unconfirmed" | undefined>;
}

/** How to reach customers (the user service). Transient failures throw {@linkcode dependencyUnavailable}. */
export interface Contacts {
  /** Undefined when there is no such account any more. */
  contactOf(userId: string): Promise<CustomerContact | undefined>;
}

/** What sending came to. */
export type SendOutcome =
  /** The server answered 250 to the end of the message. */
  | "accepted"
  /** Surely not sent: refused before the end of the message was sent, or refused after it with 4xx/5xx. */
  | "not_sent"
  /** The end of the message was sent but no answer came: the server may have taken it. */
  | "unknown";

/** The mail server. */
export interface Mailer {
  /**
   * Sends `email` with `messageId` as its Message-ID. `beforeCommit` is called just before the end of
   * the message is sent; when it resolves false, the message is abandoned unsent (`not_sent`).
   */
  send(
    email: Email,
    options: { messageId: string; beforeCommit: () => Promise<boolean> },
  ): Promise<SendOutcome>;
}

/**
 * A dependency (the mail server, the user service) is down for now: UNAVAILABLE, the relay retries.
 *
 * @example
 * ```ts
 * throw dependencyUnavailable("the mail server did not take the email");
 * ```
 */
export function dependencyUnavailable(message: string, cause?: unknown): DomainError {
  return new DomainError("unavailable", "DEPENDENCY_UNAVAILABLE", message, { cause, retryAfterMs: 1_000 });
}

/**
 * Another delivery of the same event is sending its email right now: ABORTED, the relay retries.
 *
 * @example
 * ```ts
 * throw emailInProgress("0b6b5f7e-9a51-4c8e-9d1f-3c2a1d4e5f60");
 * ```
 */
export function emailInProgress(eventId: string): DomainError {
  return new DomainError("aborted", "INVALID_STATE", `the email of event ${eventId} is being sent`, {
    metadata: { eventId },
  });
}
