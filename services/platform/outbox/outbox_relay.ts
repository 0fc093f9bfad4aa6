/**
 * The relay of a transactional outbox: rows written in the same transaction as the change they announce
 * are sent to their receiver until it acknowledges them, so each arrives at least once (the receiver is
 * idempotent). A row that fails waits with exponential backoff and jitter; one taken by a process that
 * died comes back after the delivery time it was given; delivered rows are purged after a while.
 *
 * Order is the outbox's business: the rows of one round go out side by side, so a store that hands out
 * only the oldest undelivered row of each stream (an order, a payment) gets its rows delivered in order,
 * one at a time per stream.
 *
 * @module
 */

/** What the relay needs of one outbox row. */
export interface OutboxEntry {
  /** How many deliveries failed so far. */
  attempts: number;
}

/** The storage side of an outbox, implemented by a service's store. */
export interface Outbox<E extends OutboxEntry> {
  /**
   * Takes up to `limit` undelivered rows due at `now`, in the order they must be sent and at most one of
   * each stream whose rows must keep their order (a round's rows go out side by side), and hides them
   * from other takers until `until` (so instances share the work and a crashed taker's rows come back).
   */
  claim(now: Date, until: Date, limit: number): Promise<E[]>;
  /** The receiver acknowledged these rows: they are never sent again. */
  markDelivered(entries: readonly E[], now: Date): Promise<void>;
  /** Delivery failed: counts the attempt and makes the row due again at `at`. */
  retryAt(entry: E, at: Date): Promise<void>;
  /** Deletes rows delivered before `before`; returns how many. */
  purgeDelivered(before: Date): Promise<number>;
}

/** What a relay reports as it works (the kit's Prometheus counters, or a test's own). */
export interface OutboxRelayMetrics {
  /** An entry was delivered and marked. */
  delivered(): void;
  /** A delivery attempt failed; the entry waits for its backoff. */
  failed(): void;
}

/** What {@linkcode OutboxRelay} is built from. */
export interface OutboxRelayDeps<E extends OutboxEntry> {
  outbox: Outbox<E>;
  /** Sends one row; resolves when the receiver acknowledged it, rejects when it did not. */
  deliver: (entry: E, options: { timeoutMs: number }) => Promise<void>;
  /** Rows taken per round (20 unless set). */
  batchSize?: number;
  /** How long one delivery may take, in ms (5000 unless set). */
  callTimeoutMs?: number;
  /** The first pause before a failed row is sent again, doubling per attempt up to `maxBackoffMs` (1000). */
  baseBackoffMs?: number;
  /** The longest pause between attempts, in ms (60 000 unless set). */
  maxBackoffMs?: number;
  /** How long delivered rows are kept before they are purged, in ms (7 days unless set). */
  keepDeliveredMs?: number;
  /** Counts deliveries and failed attempts (see {@linkcode outboxRelayMetrics}); uncounted unless set. */
  metrics?: OutboxRelayMetrics;
  /** Told of every delivery that failed; must not throw (logs only). */
  onFailure?: (failure: { entry: E; attempts: number; error: unknown }) => void;
  now?: () => Date;
  random?: () => number;
}

/**
 * Sends due outbox rows to their receiver.
 *
 * @example
 * ```ts
 * declare const outbox: Outbox<{ attempts: number; id: string }>;
 * const relay = new OutboxRelay({ outbox, deliver: async (row) => { void row.id; } });
 * await relay.relayDue(); // how many were acknowledged
 * await relay.purgeDelivered();
 * ```
 */
export class OutboxRelay<E extends OutboxEntry> {
  #deps: OutboxRelayDeps<E>;
  #now: () => Date;
  #random: () => number;

  /** Creates the relay over its outbox and receiver. */
  constructor(deps: OutboxRelayDeps<E>) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#random = deps.random ?? Math.random;
  }

  /**
   * Sends every row due now, in rounds of `batchSize` whose rows go out side by side (started in the
   * order the outbox hands them out); returns how many the receiver acknowledged. A row that fails
   * waits, with backoff, for a later call.
   */
  async relayDue(): Promise<number> {
    const { outbox, deliver } = this.#deps;
    const timeoutMs = this.#deps.callTimeoutMs ?? 5_000;
    let delivered = 0;
    while (true) {
      const now = this.#now();
      // Hidden from other relays for longer than a delivery can take.
      const until = new Date(now.getTime() + 2 * timeoutMs);
      const entries = await outbox.claim(now, until, this.#deps.batchSize ?? 20);
      if (entries.length === 0) break;
      // Side by side (a claim holds at most one row of each stream that must keep its order, so
      // nothing has to wait for another row), then the acknowledged ones marked in one write: a round
      // ends within one call's timeout, well before its rows reappear to other relays.
      const outcomes = await Promise.allSettled(entries.map((entry) => deliver(entry, { timeoutMs })));
      const acknowledged = entries.filter((_, i) => outcomes[i]?.status === "fulfilled");
      if (acknowledged.length > 0) await outbox.markDelivered(acknowledged, this.#now());
      for (const _ of acknowledged) this.#deps.metrics?.delivered();
      delivered += acknowledged.length;
      for (const [i, outcome] of outcomes.entries()) {
        const entry = entries[i];
        if (outcome.status === "fulfilled" || entry === undefined) continue;
        this.#deps.metrics?.failed();
        this.#deps.onFailure?.({ entry, attempts: entry.attempts + 1, error: outcome.reason });
        await outbox.retryAt(entry, this.#retryTime(entry.attempts));
      }
      // A round that failed entirely waits for the backoff rather than spinning.
      if (acknowledged.length === 0) break;
    }
    return delivered;
  }

  /** Deletes rows delivered longer ago than `keepDeliveredMs`; returns how many. */
  async purgeDelivered(): Promise<number> {
    const keepMs = this.#deps.keepDeliveredMs ?? 7 * 24 * 3_600_000;
    return await this.#deps.outbox.purgeDelivered(new Date(this.#now().getTime() - keepMs));
  }

  /** Exponential backoff with jitter: a burst of failures does not come back as one burst. */
  #retryTime(attempts: number): Date {
    const base = this.#deps.baseBackoffMs ?? 1_000;
    const delay = Math.min(base * 2 ** attempts, this.#deps.maxBackoffMs ?? 60_000);
    return new Date(this.#now().getTime() + delay / 2 + this.#random() * delay / 2);
  }
}
