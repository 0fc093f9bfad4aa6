/**
 * The relay of the payment's outbox: it tells the order service how charges that were still processing
 * ended. A notice is written in the same transaction that settles the charge (store), so none is lost;
 * the relay sends each until the order service acknowledges it, so each arrives at least once, and the
 * order side applies an outcome once, so a repeat changes nothing.
 *
 * @module
 */
import type { OrderOutcomes, PaymentStore } from "./ports.ts";

/** What {@linkcode OrderNoticeRelay} is built from. */
export interface OrderNoticeRelayDeps {
  store: PaymentStore;
  orders: OrderOutcomes;
  /** Notices taken per round (20 unless set). */
  batchSize?: number;
  /** How long one delivery may take, in ms (5000 unless set). */
  callTimeoutMs?: number;
  /** The first pause before a failed notice is sent again, doubling per attempt up to `maxBackoffMs` (1000). */
  baseBackoffMs?: number;
  /** The longest pause between attempts, in ms (60 000 unless set). */
  maxBackoffMs?: number;
  /** How long delivered notices are kept before they are purged, in ms (7 days unless set). */
  keepDeliveredMs?: number;
  /** Told of every delivery that failed; must not throw (logs only). */
  onFailure?: (failure: { orderId: string; attempts: number; error: unknown }) => void;
  now?: () => Date;
  random?: () => number;
}

/**
 * Sends due notices to the order service.
 *
 * @example
 * ```ts
 * declare const deps: OrderNoticeRelayDeps;
 * const relay = new OrderNoticeRelay(deps);
 * await relay.relayDue(); // how many were acknowledged
 * ```
 */
export class OrderNoticeRelay {
  #deps: OrderNoticeRelayDeps;
  #now: () => Date;
  #random: () => number;

  /** Creates the relay over its ports. */
  constructor(deps: OrderNoticeRelayDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#random = deps.random ?? Math.random;
  }

  /**
   * Sends every notice due now (in rounds of `batchSize`), one order at a time in the order they were
   * written; returns how many the order service acknowledged. A notice that fails waits, with backoff,
   * for a later call; one taken by a process that died comes back after the delivery time it was given.
   */
  async relayDue(): Promise<number> {
    const { store, orders } = this.#deps;
    const timeoutMs = this.#deps.callTimeoutMs ?? 5_000;
    let delivered = 0;
    while (true) {
      const now = this.#now();
      // Hidden from other relays for longer than a delivery can take.
      const until = new Date(now.getTime() + 2 * timeoutMs);
      const notices = await store.claimOrderNotices(now, until, this.#deps.batchSize ?? 20);
      if (notices.length === 0) break;
      let failed = 0;
      for (const notice of notices) {
        try {
          await orders.recordPaymentOutcome(notice, { timeoutMs });
          await store.markOrderNoticeDelivered(notice.paymentId, this.#now());
          delivered++;
        } catch (error) {
          failed++;
          this.#deps.onFailure?.({ orderId: notice.orderId, attempts: notice.attempts + 1, error });
          await store.retryOrderNoticeAt(notice.paymentId, this.#retryTime(notice.attempts));
        }
      }
      // A round that failed entirely waits for the backoff rather than spinning.
      if (failed === notices.length) break;
    }
    return delivered;
  }

  /** Deletes notices delivered longer ago than `keepDeliveredMs`; returns how many. */
  async purgeDelivered(): Promise<number> {
    const keepMs = this.#deps.keepDeliveredMs ?? 7 * 24 * 3_600_000;
    return await this.#deps.store.purgeDeliveredOrderNotices(new Date(this.#now().getTime() - keepMs));
  }

  /** Exponential backoff with jitter: a burst of failures does not come back as one burst. */
  #retryTime(attempts: number): Date {
    const base = this.#deps.baseBackoffMs ?? 1_000;
    const delay = Math.min(base * 2 ** attempts, this.#deps.maxBackoffMs ?? 60_000);
    return new Date(this.#now().getTime() + delay / 2 + this.#random() * delay / 2);
  }
}
