/**
 * The relay of the order's outbox: every event (`order_events.ts`) goes to the notification service
 * until it acknowledges it, at least once, in sequence per order (the store hands out only an order's
 * oldest undelivered event), with exponential backoff and jitter when it fails. Events are written with
 * the change they announce, so a process that dies after the change and before the relay sent the event
 * sends it after its restart; the receiver is idempotent by event id, so a repeat sends no second email.
 *
 * @module
 */
import { OutboxRelay, type OutboxRelayDeps } from "@shop/platform/outbox";
import type { OrderEvent } from "./order_events.ts";
import type { OrderStore } from "./ports.ts";

/** Whoever hears the order's events (the notification service). Rejects when it did not take one. */
export interface OrderEventReceiver {
  notifyOrderEvent(event: OrderEvent, options: { timeoutMs: number }): Promise<void>;
}

/** What {@linkcode orderEventRelay} is built from: the kit relay's settings, the store and the receiver. */
export interface OrderEventRelayDeps extends Omit<OutboxRelayDeps<OrderEvent>, "outbox" | "deliver"> {
  store: OrderStore;
  receiver: OrderEventReceiver;
}

/**
 * The kit's outbox relay over the order store's events.
 *
 * @example
 * ```ts
 * declare const deps: OrderEventRelayDeps;
 * const relay = orderEventRelay(deps);
 * await relay.relayDue();
 * await relay.purgeDelivered();
 * ```
 */
export function orderEventRelay(deps: OrderEventRelayDeps): OutboxRelay<OrderEvent> {
  const { store, receiver, ...settings } = deps;
  return new OutboxRelay<OrderEvent>({
    ...settings,
    outbox: {
      claim: (now, until, limit) => store.claimOrderEvents(now, until, limit),
      markDelivered: (events, now) => store.markOrderEventsDelivered(events.map((event) => event.id), now),
      retryAt: (event, at) => store.retryOrderEventAt(event.id, at),
      purgeDelivered: (before) => store.purgeDeliveredOrderEvents(before),
    },
    deliver: (event, options) => receiver.notifyOrderEvent(event, options),
  });
}
