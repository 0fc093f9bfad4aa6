import type { BeginOutcome, Hold, SentEmailStore } from "../domain/ports.ts";

type State = "preparing" | "committing" | "sent" | "unconfirmed";

interface Row {
  state: State;
  hold: Hold | undefined;
  updateTime: Date;
}

/**
 * The record of sent emails in memory, for fast tests. The same contract suite runs on it and on
 * PostgreSQL.
 *
 * @example
 * ```ts
 * const store = new MemorySentEmailStore();
 * ```
 */
export class MemorySentEmailStore implements SentEmailStore {
  #rows = new Map<string, Row>();

  begin(eventId: string, _orderId: string, hold: Hold, now: Date): Promise<BeginOutcome> {
    const row = this.#rows.get(eventId);
    if (!row || (row.state === "preparing" && (!row.hold || row.hold.until <= now))) {
      this.#rows.set(eventId, { state: "preparing", hold: { ...hold }, updateTime: now });
      return Promise.resolve("send");
    }
    if (row.state === "sent" || row.state === "unconfirmed") return Promise.resolve("done");
    if (row.state === "committing" && row.hold && row.hold.until <= now) {
      Object.assign(row, { state: "unconfirmed", hold: undefined, updateTime: now });
      return Promise.resolve("done");
    }
    return Promise.resolve("busy");
  }

  committing(eventId: string, owner: string): Promise<boolean> {
    const row = this.#rows.get(eventId);
    if (row?.state !== "preparing" || row.hold?.owner !== owner) return Promise.resolve(false);
    row.state = "committing";
    return Promise.resolve(true);
  }

  sent(eventId: string, now: Date): Promise<void> {
    this.#settle(eventId, "sent", now);
    return Promise.resolve();
  }

  unconfirmed(eventId: string, now: Date): Promise<void> {
    this.#settle(eventId, "unconfirmed", now);
    return Promise.resolve();
  }

  abandon(eventId: string, owner: string): Promise<void> {
    const row = this.#rows.get(eventId);
    if (row && row.hold?.owner === owner && (row.state === "preparing" || row.state === "committing")) {
      Object.assign(row, { state: "preparing", hold: undefined });
    }
    return Promise.resolve();
  }

  purge(before: Date): Promise<number> {
    let purged = 0;
    for (const [eventId, row] of this.#rows) {
      if (row.updateTime < before && (row.state === "sent" || row.state === "unconfirmed")) {
        this.#rows.delete(eventId);
        purged++;
      }
    }
    return Promise.resolve(purged);
  }

  stateOf(eventId: string): Promise<State | undefined> {
    return Promise.resolve(this.#rows.get(eventId)?.state);
  }

  #settle(eventId: string, state: "sent" | "unconfirmed", now: Date): void {
    const row = this.#rows.get(eventId);
    if (row && row.state !== "sent") Object.assign(row, { state, hold: undefined, updateTime: now });
  }
}
