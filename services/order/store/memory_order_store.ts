import type { OrderEvent, OrderEventDraft } from "../domain/order_events.ts";
import {
  type Lease,
  type OrderCursor,
  orderOf,
  type OrderPage,
  type OrderRecord,
  type OrderStore,
  type SaveOptions,
} from "../domain/ports.ts";

interface Entry {
  order: OrderRecord;
  lease: Lease | undefined;
  /** The sequence number of the order's last event. */
  lastSequence: number;
}

interface StoredEvent {
  draft: OrderEventDraft;
  sequence: number;
  attempts: number;
  due: Date;
  delivered: Date | undefined;
}

function newestFirst(a: OrderRecord, b: OrderRecord): number {
  return b.createTime.getTime() - a.createTime.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

function copy(order: OrderRecord): OrderRecord {
  return structuredClone(order);
}

/**
 * The order store in memory, for fast handler tests. The same contract suite runs on it and on
 * PostgreSQL.
 *
 * @example
 * ```ts
 * const store = new MemoryOrderStore();
 * ```
 */
export class MemoryOrderStore implements OrderStore {
  #entries = new Map<string, Entry>();
  /** The outbox, in the order the events were written. */
  #events: StoredEvent[] = [];

  insertOrder(
    order: OrderRecord,
    lease: Lease,
  ): Promise<{ created: true } | { created: false; existing: OrderRecord }> {
    for (const entry of this.#entries.values()) {
      if (entry.order.userId === order.userId && entry.order.requestId === order.requestId) {
        return Promise.resolve({ created: false, existing: copy(entry.order) });
      }
    }
    this.#entries.set(order.id, { order: copy(order), lease: { ...lease }, lastSequence: 0 });
    return Promise.resolve({ created: true });
  }

  findOrder(id: string): Promise<OrderRecord | undefined> {
    const entry = this.#entries.get(id);
    return Promise.resolve(entry ? copy(entry.order) : undefined);
  }

  saveProgress(
    order: OrderRecord,
    lease: Lease,
    events: readonly OrderEventDraft[] = [],
    options: SaveOptions = {},
  ): Promise<boolean> {
    const entry = this.#entries.get(order.id);
    if (!entry || entry.lease?.owner !== lease.owner) return Promise.resolve(false);
    let sequence = entry.lastSequence;
    // An event stored before (the same refund announced again by a compensation run twice) is not stored again.
    const known = new Set(this.#events.map((event) => event.draft.id));
    for (const draft of events.filter((event) => !known.has(event.id))) {
      sequence++;
      this.#events.push({
        draft: structuredClone(draft),
        sequence,
        attempts: 0,
        due: draft.time,
        delivered: undefined,
      });
    }
    this.#entries.set(order.id, {
      order: copy(order),
      lease: options.releaseLease ? undefined : { ...lease },
      lastSequence: sequence,
    });
    return Promise.resolve(true);
  }

  claimOrderEvents(now: Date, until: Date, limit: number): Promise<OrderEvent[]> {
    const heads = new Map<string, StoredEvent>();
    for (const event of this.#events) {
      if (event.delivered === undefined && !heads.has(event.draft.orderId)) {
        heads.set(event.draft.orderId, event);
      }
    }
    const claimed: OrderEvent[] = [];
    for (const event of heads.values()) {
      if (claimed.length >= limit) break;
      const entry = this.#entries.get(event.draft.orderId);
      if (event.due > now || !entry) continue;
      event.due = until;
      const order = orderOf(copy(entry.order));
      claimed.push({
        ...structuredClone(event.draft),
        sequence: event.sequence,
        attempts: event.attempts,
        order,
      });
    }
    return Promise.resolve(claimed);
  }

  markOrderEventsDelivered(eventIds: readonly string[], now: Date): Promise<void> {
    for (const event of this.#events) if (eventIds.includes(event.draft.id)) event.delivered = now;
    return Promise.resolve();
  }

  retryOrderEventAt(eventId: string, at: Date): Promise<void> {
    const event = this.#events.find((e) => e.draft.id === eventId);
    if (event && event.delivered === undefined) {
      event.attempts++;
      event.due = at;
    }
    return Promise.resolve();
  }

  purgeDeliveredOrderEvents(before: Date): Promise<number> {
    const kept = this.#events.filter((e) => e.delivered === undefined || e.delivered >= before);
    const purged = this.#events.length - kept.length;
    this.#events = kept;
    return Promise.resolve(purged);
  }

  claim(id: string, lease: Lease, now: Date): Promise<OrderRecord | undefined> {
    const entry = this.#entries.get(id);
    if (!entry || (entry.lease && entry.lease.until > now)) return Promise.resolve(undefined);
    entry.lease = { ...lease };
    return Promise.resolve(copy(entry.order));
  }

  claimStalled(lease: Lease, now: Date, limit: number): Promise<OrderRecord[]> {
    const claimed: OrderRecord[] = [];
    for (const entry of this.#entries.values()) {
      if (claimed.length >= limit) break;
      const idle = entry.order.sagaStep === "done" || entry.order.sagaStep === "await_payment";
      if (idle || (entry.lease && entry.lease.until > now)) continue;
      entry.lease = { ...lease };
      claimed.push(copy(entry.order));
    }
    return Promise.resolve(claimed);
  }

  releaseLease(id: string, owner: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (entry?.lease?.owner === owner) entry.lease = undefined;
    return Promise.resolve();
  }

  listOrders(
    userId: string | undefined,
    pageSize: number,
    after: OrderCursor | undefined,
  ): Promise<OrderPage> {
    const all = [...this.#entries.values()].map((entry) => entry.order)
      .filter((order) => userId === undefined || order.userId === userId)
      .sort(newestFirst);
    const rest = after
      ? all.filter((order) =>
        newestFirst(order, { ...order, createTime: after.createTime, id: after.id }) > 0
      )
      : all;
    const orders = rest.slice(0, pageSize).map(copy);
    const last = orders[orders.length - 1];
    return Promise.resolve({
      orders,
      next: rest.length > pageSize && last ? { createTime: last.createTime, id: last.id } : undefined,
    });
  }
}
