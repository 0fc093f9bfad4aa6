import type { Sql } from "postgres";
import type {
  OrderStatus,
  PricedItem,
  PricedOrder,
  RequestedItem,
  ShippingAddress,
  StatusChange,
  UnpricedOrder,
} from "../domain/order.ts";
import type { OrderEvent, OrderEventDraft, OrderEventType } from "../domain/order_events.ts";
import {
  type Lease,
  type OrderCursor,
  orderOf,
  type OrderPage,
  type OrderRecord,
  type OrderStore,
  type SagaStep,
  type SaveOptions,
} from "../domain/ports.ts";

interface OrderRow {
  id: string;
  user_id: string;
  request_id: string;
  status: OrderStatus;
  items: StoredItem[];
  total_currency: string | null;
  total_minor: string | null;
  status_history: StoredChange[];
  failure_reason: string;
  shipping_address: ShippingAddress;
  payment_method: string;
  create_time: Date;
  update_time: Date;
  saga_step: SagaStep;
  charge_attempted: boolean;
  announced_changes: number;
  trace_parent: string | null;
}

/** An outbox row with the order it belongs to (columns of the event prefixed `e_`). */
interface EventRow extends OrderRow {
  e_id: string;
  e_sequence: string;
  e_type: OrderEventType;
  e_time: Date;
  e_status: OrderStatus;
  e_reason: string;
  e_refunded_currency: string | null;
  e_refunded_minor: string | null;
  e_attempts: number;
}

/**
 * Items as JSON: money amounts as strings, since JSON has no 64-bit integers. An unpriced order's items
 * have no name and a null price.
 */
type StoredItem = {
  productId: string;
  quantity: number;
  name: string;
  unitPrice: { currencyCode: string; amountMinor: string } | null;
};

/** The items and total of a row: priced when the row has a total, else as the customer asked. */
function pricingOf(
  row: OrderRow,
): Pick<UnpricedOrder, "items" | "total"> | Pick<PricedOrder, "items" | "total"> {
  if (row.total_currency === null || row.total_minor === null) {
    return {
      items: row.items.map(({ productId, quantity }): RequestedItem => ({ productId, quantity })),
      total: undefined,
    };
  }
  return {
    items: row.items.map((item): PricedItem => {
      if (!item.unitPrice) {
        throw new Error(`order ${row.id} has a total but an unpriced item ${item.productId}`);
      }
      return {
        productId: item.productId,
        quantity: item.quantity,
        name: item.name,
        unitPrice: {
          currencyCode: item.unitPrice.currencyCode,
          amountMinor: BigInt(item.unitPrice.amountMinor),
        },
      };
    }),
    total: { currencyCode: row.total_currency, amountMinor: BigInt(row.total_minor) },
  };
}

type StoredChange = {
  status: OrderStatus;
  reason: string;
  time: string;
};

type StoredAddress = { [K in keyof ShippingAddress]: string };

function storedAddress(address: ShippingAddress): StoredAddress {
  const { name, line1, line2, city, postalCode, country } = address;
  return { name, line1, line2, city, postalCode, country };
}

const columns = `id, user_id, request_id, status, items, total_currency, total_minor::text AS total_minor,
  status_history, failure_reason, shipping_address, payment_method, create_time, update_time, saga_step,
  charge_attempted, announced_changes, trace_parent`;

/** The order's columns, qualified by a table alias. */
function prefixed(alias: string): string {
  return columns.split(",").map((column) => `${alias}.${column.trim()}`).join(", ");
}

function toRecord(row: OrderRow): OrderRecord {
  return {
    id: row.id,
    userId: row.user_id,
    requestId: row.request_id,
    status: row.status,
    ...pricingOf(row),
    statusHistory: row.status_history.map((change): StatusChange => ({
      ...change,
      time: new Date(change.time),
    })),
    failureReason: row.failure_reason,
    shippingAddress: row.shipping_address,
    paymentMethod: row.payment_method,
    createTime: row.create_time,
    updateTime: row.update_time,
    sagaStep: row.saga_step,
    chargeAttempted: row.charge_attempted,
    ...(row.trace_parent === null ? {} : { traceParent: row.trace_parent }),
    announcedChanges: row.announced_changes,
  };
}

function toEvent(row: EventRow): OrderEvent {
  const order = orderOf(toRecord(row));
  return {
    id: row.e_id,
    orderId: row.id,
    sequence: Number(row.e_sequence),
    type: row.e_type,
    time: row.e_time,
    status: row.e_status,
    reason: row.e_reason,
    refunded: row.e_refunded_currency === null || row.e_refunded_minor === null
      ? undefined
      : { currencyCode: row.e_refunded_currency, amountMinor: BigInt(row.e_refunded_minor) },
    order,
    attempts: row.e_attempts,
  };
}

function storedItems(order: OrderRecord): StoredItem[] {
  if (order.total === undefined) {
    return order.items.map(({ productId, quantity }) => ({ productId, quantity, name: "", unitPrice: null }));
  }
  return order.items.map((item) => ({
    productId: item.productId,
    quantity: item.quantity,
    name: item.name,
    unitPrice: {
      currencyCode: item.unitPrice.currencyCode,
      amountMinor: item.unitPrice.amountMinor.toString(),
    },
  }));
}

function storedHistory(order: OrderRecord): StoredChange[] {
  return order.statusHistory.map((change) => ({ ...change, time: change.time.toISOString() }));
}

/**
 * The order store on PostgreSQL (schema in `migrations/`). The unique (user_id, request_id) constraint
 * decides between concurrent duplicate orders; saga leases are compare-and-set updates on the row.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * const store = new PostgresOrderStore(postgres("postgres://127.0.0.1:5432/orders"));
 * ```
 */
export class PostgresOrderStore implements OrderStore {
  #sql: Sql;

  /** Uses a pool the caller owns. */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async insertOrder(
    order: OrderRecord,
    lease: Lease,
  ): Promise<{ created: true } | { created: false; existing: OrderRecord }> {
    const sql = this.#sql;
    const inserted = await sql`
      INSERT INTO orders (id, user_id, request_id, status, items, total_currency, total_minor, status_history,
        failure_reason, shipping_address, payment_method, create_time, update_time, saga_step, charge_attempted,
        announced_changes, trace_parent, lease_owner, lease_until)
      VALUES (${order.id}, ${order.userId}, ${order.requestId}, ${order.status}, ${
      sql.json(storedItems(order))
    },
        ${order.total?.currencyCode ?? null}, ${order.total?.amountMinor.toString() ?? null},
        ${sql.json(storedHistory(order))}, ${order.failureReason}, ${
      sql.json(storedAddress(order.shippingAddress))
    },
        ${order.paymentMethod}, ${order.createTime}, ${order.updateTime}, ${order.sagaStep}, ${order.chargeAttempted},
        ${order.announcedChanges}, ${order.traceParent ?? null}, ${lease.owner}, ${lease.until})
      ON CONFLICT (user_id, request_id) DO NOTHING
      RETURNING id`;
    if (inserted.length === 1) return { created: true };
    const [row] = await sql<OrderRow[]>`
      SELECT ${
      sql.unsafe(columns)
    } FROM orders WHERE user_id = ${order.userId} AND request_id = ${order.requestId}`;
    if (!row) throw new Error(`order (${order.userId}, ${order.requestId}) conflicted but cannot be read`);
    return { created: false, existing: toRecord(row) };
  }

  async findOrder(id: string): Promise<OrderRecord | undefined> {
    const [row] = await this.#sql<OrderRow[]>`SELECT ${
      this.#sql.unsafe(columns)
    } FROM orders WHERE id = ${id}`;
    return row ? toRecord(row) : undefined;
  }

  async saveProgress(
    order: OrderRecord,
    lease: Lease,
    events: readonly OrderEventDraft[] = [],
    options: SaveOptions = {},
  ): Promise<boolean> {
    const sql = this.#sql;
    // One statement, so one round trip, and atomic without a transaction: the order's change, the events
    // that announce it, and (when the saga ends here) the lease given up, all or nothing. An event stored
    // before (the same refund announced again by a compensation run twice) is not stored again.
    const drafts = events.map((event, index) => ({
      id: event.id,
      idx: index,
      type: event.type,
      time: event.time.toISOString(),
      status: event.status,
      reason: event.reason,
      refunded_currency: event.refunded?.currencyCode ?? null,
      refunded_minor: event.refunded?.amountMinor.toString() ?? null,
    }));
    const release = options.releaseLease === true;
    const [updated] = await sql<{ id: string }[]>`
      WITH fresh AS (
        SELECT d.* FROM jsonb_to_recordset(${sql.json(drafts)}::jsonb) AS d(id uuid, idx int, type text,
          time timestamptz, status text, reason text, refunded_currency text, refunded_minor bigint)
        WHERE NOT EXISTS (SELECT 1 FROM order_events e WHERE e.id = d.id)
      ), updated AS (
        UPDATE orders SET status = ${order.status}, items = ${sql.json(storedItems(order))},
          total_currency = ${order.total?.currencyCode ?? null}, total_minor = ${
      order.total?.amountMinor.toString() ?? null
    },
          status_history = ${sql.json(storedHistory(order))}, failure_reason = ${order.failureReason},
          update_time = ${order.updateTime}, saga_step = ${order.sagaStep},
          charge_attempted = ${order.chargeAttempted}, announced_changes = ${order.announcedChanges},
          last_event_sequence = last_event_sequence + (SELECT count(*) FROM fresh),
          lease_owner = CASE WHEN ${release} THEN NULL ELSE lease_owner END,
          lease_until = CASE WHEN ${release} THEN NULL ELSE ${lease.until}::timestamptz END
        WHERE id = ${order.id} AND lease_owner = ${lease.owner}
        RETURNING id, last_event_sequence
      ), announced AS (
        INSERT INTO order_events (id, order_id, sequence, type, time, status, reason, refunded_currency,
          refunded_minor, next_attempt_time)
        SELECT f.id, u.id, u.last_event_sequence - (SELECT count(*) FROM fresh)
            + row_number() OVER (ORDER BY f.idx),
          f.type, f.time, f.status, f.reason, f.refunded_currency, f.refunded_minor, f.time
        FROM fresh f CROSS JOIN updated u
      )
      SELECT id FROM updated`;
    return updated !== undefined;
  }

  async claimOrderEvents(now: Date, until: Date, limit: number): Promise<OrderEvent[]> {
    const sql = this.#sql;
    // Only the oldest undelivered event of each order may go: its successors wait until it is
    // acknowledged. SKIP LOCKED: relays running at the same moment take different events.
    const rows = await sql<EventRow[]>`
      WITH claimed AS (
        UPDATE order_events SET next_attempt_time = ${until}
        WHERE id IN (
          SELECT e.id FROM order_events e
          WHERE e.delivered_time IS NULL AND e.next_attempt_time <= ${now}
            AND NOT EXISTS (SELECT 1 FROM order_events p
              WHERE p.order_id = e.order_id AND p.sequence < e.sequence AND p.delivered_time IS NULL)
          ORDER BY e.time, e.sequence LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING *)
      SELECT c.id AS e_id, c.sequence::text AS e_sequence, c.type AS e_type, c.time AS e_time,
        c.status AS e_status, c.reason AS e_reason, c.refunded_currency AS e_refunded_currency,
        c.refunded_minor::text AS e_refunded_minor, c.attempts AS e_attempts, ${sql.unsafe(prefixed("o"))}
      FROM claimed c JOIN orders o ON o.id = c.order_id
      ORDER BY c.time, c.sequence`;
    return rows.map(toEvent);
  }

  async markOrderEventsDelivered(eventIds: readonly string[], now: Date): Promise<void> {
    if (eventIds.length === 0) return;
    await this.#sql`UPDATE order_events SET delivered_time = ${now} WHERE id IN ${this.#sql(eventIds)}`;
  }

  async retryOrderEventAt(eventId: string, at: Date): Promise<void> {
    await this.#sql`
      UPDATE order_events SET attempts = attempts + 1, next_attempt_time = ${at}
      WHERE id = ${eventId} AND delivered_time IS NULL`;
  }

  async purgeDeliveredOrderEvents(before: Date): Promise<number> {
    const rows = await this.#sql`DELETE FROM order_events WHERE delivered_time < ${before} RETURNING id`;
    return rows.length;
  }

  async claim(id: string, lease: Lease, now: Date): Promise<OrderRecord | undefined> {
    const [row] = await this.#sql<OrderRow[]>`
      UPDATE orders SET lease_owner = ${lease.owner}, lease_until = ${lease.until}
      WHERE id = ${id} AND (lease_until IS NULL OR lease_until <= ${now})
      RETURNING ${this.#sql.unsafe(columns)}`;
    return row ? toRecord(row) : undefined;
  }

  async claimStalled(lease: Lease, now: Date, limit: number): Promise<OrderRecord[]> {
    // SKIP LOCKED: instances sweeping at the same moment take different orders instead of waiting.
    const rows = await this.#sql<OrderRow[]>`
      UPDATE orders SET lease_owner = ${lease.owner}, lease_until = ${lease.until}
      WHERE id IN (
        SELECT id FROM orders
        WHERE saga_step NOT IN ('done', 'await_payment') AND (lease_until IS NULL OR lease_until <= ${now})
        ORDER BY create_time LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING ${this.#sql.unsafe(columns)}`;
    return rows.map(toRecord);
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    await this
      .#sql`UPDATE orders SET lease_owner = NULL, lease_until = NULL WHERE id = ${id} AND lease_owner = ${owner}`;
  }

  async listOrders(
    userId: string | undefined,
    pageSize: number,
    after: OrderCursor | undefined,
  ): Promise<OrderPage> {
    const sql = this.#sql;
    const byUser = userId === undefined ? sql`` : sql`AND user_id = ${userId}`;
    const position = after ? sql`AND (create_time, id) < (${after.createTime}, ${after.id})` : sql``;
    const rows = await sql<OrderRow[]>`
      SELECT ${sql.unsafe(columns)} FROM orders WHERE true ${byUser} ${position}
      ORDER BY create_time DESC, id DESC LIMIT ${pageSize + 1}`;
    const orders = rows.slice(0, pageSize).map(toRecord);
    const last = orders[orders.length - 1];
    return {
      orders,
      next: rows.length > pageSize && last ? { createTime: last.createTime, id: last.id } : undefined,
    };
  }
}
