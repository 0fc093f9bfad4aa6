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
import type { Lease, OrderCursor, OrderPage, OrderRecord, OrderStore, SagaStep } from "../domain/ports.ts";

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
  trace_parent: string | null;
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
  charge_attempted, trace_parent`;

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
        trace_parent, lease_owner, lease_until)
      VALUES (${order.id}, ${order.userId}, ${order.requestId}, ${order.status}, ${
      sql.json(storedItems(order))
    },
        ${order.total?.currencyCode ?? null}, ${order.total?.amountMinor.toString() ?? null},
        ${sql.json(storedHistory(order))}, ${order.failureReason}, ${
      sql.json(storedAddress(order.shippingAddress))
    },
        ${order.paymentMethod}, ${order.createTime}, ${order.updateTime}, ${order.sagaStep}, ${order.chargeAttempted},
        ${order.traceParent ?? null}, ${lease.owner}, ${lease.until})
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

  async saveProgress(order: OrderRecord, lease: Lease): Promise<boolean> {
    const sql = this.#sql;
    const updated = await sql`
      UPDATE orders SET status = ${order.status}, items = ${sql.json(storedItems(order))},
        total_currency = ${order.total?.currencyCode ?? null}, total_minor = ${
      order.total?.amountMinor.toString() ?? null
    },
        status_history = ${sql.json(storedHistory(order))}, failure_reason = ${order.failureReason},
        update_time = ${order.updateTime}, saga_step = ${order.sagaStep}, charge_attempted = ${order.chargeAttempted},
        lease_until = ${lease.until}
      WHERE id = ${order.id} AND lease_owner = ${lease.owner}
      RETURNING id`;
    return updated.length === 1;
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
