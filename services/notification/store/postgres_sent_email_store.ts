import type { Sql } from "postgres";
import type { BeginOutcome, Hold, SentEmailStore } from "../domain/ports.ts";

type State = "preparing" | "committing" | "sent" | "unconfirmed";

/**
 * The record of sent emails on PostgreSQL (schema in `migrations/`): the primary key on the event id
 * decides between concurrent deliveries of one event; every change of state is a compare-and-set.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * const store = new PostgresSentEmailStore(postgres("postgres://127.0.0.1:5432/shop_notification"));
 * ```
 */
export class PostgresSentEmailStore implements SentEmailStore {
  #sql: Sql;

  /** Uses a pool the caller owns. */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async begin(eventId: string, orderId: string, hold: Hold, now: Date): Promise<BeginOutcome> {
    const sql = this.#sql;
    const taken = await sql`
      INSERT INTO order_emails (event_id, order_id, state, holder, hold_until, update_time)
      VALUES (${eventId}, ${orderId}, 'preparing', ${hold.owner}, ${hold.until}, ${now})
      ON CONFLICT (event_id) DO UPDATE SET holder = EXCLUDED.holder, hold_until = EXCLUDED.hold_until,
        update_time = EXCLUDED.update_time
      WHERE order_emails.state = 'preparing'
        AND (order_emails.hold_until IS NULL OR order_emails.hold_until <= ${now})
      RETURNING event_id`;
    if (taken.length === 1) return "send";
    // A sender that died between the end of the message and the server's answer: never resent.
    const expired = await sql`
      UPDATE order_emails SET state = 'unconfirmed', holder = NULL, hold_until = NULL, update_time = ${now}
      WHERE event_id = ${eventId} AND state = 'committing' AND hold_until <= ${now}
      RETURNING event_id`;
    if (expired.length === 1) return "done";
    const state = await this.stateOf(eventId);
    return state === "sent" || state === "unconfirmed" ? "done" : "busy";
  }

  async committing(eventId: string, owner: string): Promise<boolean> {
    const rows = await this.#sql`
      UPDATE order_emails SET state = 'committing'
      WHERE event_id = ${eventId} AND state = 'preparing' AND holder = ${owner}
      RETURNING event_id`;
    return rows.length === 1;
  }

  async sent(eventId: string, now: Date): Promise<void> {
    await this.#settle(eventId, "sent", now);
  }

  async unconfirmed(eventId: string, now: Date): Promise<void> {
    await this.#settle(eventId, "unconfirmed", now);
  }

  async abandon(eventId: string, owner: string): Promise<void> {
    await this.#sql`
      UPDATE order_emails SET state = 'preparing', holder = NULL, hold_until = NULL
      WHERE event_id = ${eventId} AND holder = ${owner} AND state IN ('preparing', 'committing')`;
  }

  async purge(before: Date): Promise<number> {
    const rows = await this.#sql`
      DELETE FROM order_emails WHERE state IN ('sent', 'unconfirmed') AND update_time < ${before}
      RETURNING event_id`;
    return rows.length;
  }

  async stateOf(eventId: string): Promise<State | undefined> {
    const [row] = await this.#sql<
      { state: State }[]
    >`SELECT state FROM order_emails WHERE event_id = ${eventId}`;
    return row?.state;
  }

  async #settle(eventId: string, state: "sent" | "unconfirmed", now: Date): Promise<void> {
    await this.#sql`
      UPDATE order_emails SET state = ${state}, holder = NULL, hold_until = NULL, update_time = ${now}
      WHERE event_id = ${eventId} AND state <> 'sent'`;
  }
}
