/**
 * The relay of the payment's outbox: it tells the order service how charges that were still processing
 * ended. A notice is written in the same transaction that settles the charge (store), so none is lost;
 * the kit's outbox relay sends each until the order service acknowledges it, so each arrives at least
 * once, and the order side applies an outcome once, so a repeat changes nothing.
 *
 * @module
 */
import { OutboxRelay, type OutboxRelayDeps } from "@shop/platform/outbox";
import type { OrderNotice, OrderOutcomes, PaymentStore } from "./ports.ts";

/** What {@linkcode OrderNoticeRelay} is built from: the kit relay's settings, the store and the order service. */
export interface OrderNoticeRelayDeps
  extends Omit<OutboxRelayDeps<OrderNotice>, "outbox" | "deliver" | "onFailure"> {
  store: PaymentStore;
  orders: OrderOutcomes;
  /** Told of every delivery that failed; must not throw (logs only). */
  onFailure?: (failure: { orderId: string; attempts: number; error: unknown }) => void;
  /**
   * Runs each delivery (a span in the trace of the work that settled the charge, `notice.traceParent`);
   * delivers plainly unless given.
   */
  observeDelivery?: (notice: OrderNotice, deliver: () => Promise<void>) => Promise<void>;
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
  #relay: OutboxRelay<OrderNotice>;

  /** Creates the relay over its ports. */
  constructor(deps: OrderNoticeRelayDeps) {
    const { store, orders, onFailure, observeDelivery, ...settings } = deps;
    this.#relay = new OutboxRelay<OrderNotice>({
      ...settings,
      outbox: {
        claim: (now, until, limit) => store.claimOrderNotices(now, until, limit),
        markDelivered: (notices, now) =>
          store.markOrderNoticesDelivered(notices.map((notice) => notice.paymentId), now),
        retryAt: (notice, at) => store.retryOrderNoticeAt(notice.paymentId, at),
        purgeDelivered: (before) => store.purgeDeliveredOrderNotices(before),
      },
      deliver: (notice, options) => {
        const deliver = () => orders.recordPaymentOutcome(notice, options);
        return observeDelivery ? observeDelivery(notice, deliver) : deliver();
      },
      ...onFailure && {
        onFailure: ({ entry, attempts, error }) => onFailure({ orderId: entry.orderId, attempts, error }),
      },
    });
  }

  /**
   * Sends every notice due now, in the order they were written; returns how many the order service
   * acknowledged. A notice that fails waits, with backoff, for a later call; one taken by a process that
   * died comes back after the delivery time it was given.
   */
  relayDue(): Promise<number> {
    return this.#relay.relayDue();
  }

  /** Deletes notices delivered longer ago than `keepDeliveredMs`; returns how many. */
  purgeDelivered(): Promise<number> {
    return this.#relay.purgeDelivered();
  }
}
