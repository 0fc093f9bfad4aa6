import postgres, { type Sql, type TransactionSql } from "postgres";
import { currentTraceparent } from "@shop/platform/tracing";
import { invalidPaymentState, refundExceedsPayment } from "../domain/errors.ts";
import type { ChargeStatus, Payment, Refund, RefundStatus } from "../domain/payment.ts";
import type {
  ChargeSettlement,
  LedgerEffect,
  NewPayment,
  NewRefund,
  OrderNotice,
  PaymentCursor,
  PaymentPage,
  PaymentStore,
  RefundSettlement,
} from "../domain/ports.ts";

interface PaymentRow {
  id: string;
  order_id: string;
  user_id: string;
  currency_code: string;
  amount_minor: string;
  payment_method: string;
  idempotency_key: string;
  charge_status: ChargeStatus;
  stripe_payment_intent_id: string | null;
  failure_reason: string;
  decline_code: string;
  create_time: Date;
  update_time: Date;
  /** Read with `paymentSelect`: false when the payment has no refunds. */
  has_refunds?: boolean;
}

interface RefundRow {
  id: string;
  payment_id: string;
  amount_minor: string;
  reason: string;
  idempotency_key: string;
  status: RefundStatus;
  stripe_refund_id: string | null;
  failure_reason: string;
  create_time: Date;
  update_time: Date;
}

interface NoticeRow {
  payment_id: string;
  order_id: string;
  outcome: "succeeded" | "failed";
  failure_reason: string;
  attempts: number;
  create_time: Date;
  trace_parent: string | null;
}

function toNotice(row: NoticeRow): OrderNotice {
  return {
    paymentId: row.payment_id,
    orderId: row.order_id,
    outcome: row.outcome,
    failureReason: row.failure_reason,
    attempts: row.attempts,
    createTime: row.create_time,
    ...(row.trace_parent === null ? {} : { traceParent: row.trace_parent }),
  };
}

const paymentColumns = `id, order_id, user_id, currency_code, amount_minor, payment_method, idempotency_key,
  charge_status, stripe_payment_intent_id, failure_reason, decline_code, create_time, update_time`;

/** The columns of a payment, and whether it has refunds (a payment without any needs no second read). */
const paymentSelect = `${paymentColumns},
  EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = payments.id) AS has_refunds`;

function toRefund(row: RefundRow): Refund {
  return {
    id: row.id,
    paymentId: row.payment_id,
    amountMinor: BigInt(row.amount_minor),
    reason: row.reason,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    stripeRefundId: row.stripe_refund_id ?? undefined,
    failureReason: row.failure_reason,
    createTime: row.create_time,
    updateTime: row.update_time,
  };
}

function toPayment(row: PaymentRow, refunds: Refund[]): Payment {
  return {
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    amount: { currencyCode: row.currency_code, amountMinor: BigInt(row.amount_minor) },
    paymentMethod: row.payment_method,
    idempotencyKey: row.idempotency_key,
    chargeStatus: row.charge_status,
    stripePaymentIntentId: row.stripe_payment_intent_id ?? undefined,
    failureReason: row.failure_reason,
    declineCode: row.decline_code,
    refunds,
    createTime: row.create_time,
    updateTime: row.update_time,
  };
}

/**
 * The payment ledger on PostgreSQL (schema in `migrations/`). The unique order id arbitrates concurrent
 * charges; refunds reserve their amount under the payment's row lock, and a trigger plus a CHECK keep the
 * reserved total within the captured amount whatever the code does; webhook events are applied in the
 * same transaction that stores their id.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * const store = new PostgresPaymentStore(postgres("postgres://127.0.0.1:5432/payments"));
 * ```
 */
export class PostgresPaymentStore implements PaymentStore {
  #sql: Sql;

  /** Uses a pool the caller owns (and closes). */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async beginCharge(payment: NewPayment): Promise<{ payment: Payment; created: boolean }> {
    // RETURNING the row spares a read: a payment just created has no refunds.
    const [inserted] = await this.#sql<PaymentRow[]>`
      INSERT INTO payments (id, order_id, user_id, currency_code, amount_minor, payment_method, idempotency_key,
                            charge_status, create_time, update_time)
      VALUES (${payment.id}, ${payment.orderId}, ${payment.userId}, ${payment.amount.currencyCode},
              ${payment.amount.amountMinor.toString()}, ${payment.paymentMethod}, ${payment.idempotencyKey},
              'pending', ${payment.createTime}, ${payment.createTime})
      ON CONFLICT (order_id) DO NOTHING
      RETURNING ${this.#sql.unsafe(paymentColumns)}`;
    if (inserted) return { payment: toPayment(inserted, []), created: true };
    // ON CONFLICT waits for a concurrent insert of the same order to commit, so the row is there now.
    const stored = await this.findPaymentByOrder(payment.orderId);
    if (!stored) throw new Error(`payment of order ${payment.orderId} neither inserted nor found`);
    return { payment: stored, created: false };
  }

  async settleCharge(
    paymentId: string,
    settlement: ChargeSettlement,
    now: Date,
    options: { notifyOrder?: boolean } = {},
  ): Promise<Payment | undefined> {
    if (options.notifyOrder === true) {
      await this.#sql.begin((tx) => settleCharge(tx, paymentId, settlement, now, true));
      return await this.findPayment(paymentId);
    }
    // Without a notice the settlement is one UPDATE, atomic on its own, that returns the row it left
    // (and whether it has refunds to read).
    const rows = await this.#sql<PaymentRow[]>`
      ${updateCharge(this.#sql, paymentId, settlement, now)} RETURNING ${this.#sql.unsafe(paymentSelect)}`;
    return (await this.#withRefunds(rows))[0];
  }

  async findPayment(id: string): Promise<Payment | undefined> {
    const rows = await this.#sql<PaymentRow[]>`
      SELECT ${this.#sql.unsafe(paymentSelect)} FROM payments WHERE id = ${id}`;
    return (await this.#withRefunds(rows))[0];
  }

  async findPaymentByOrder(orderId: string): Promise<Payment | undefined> {
    const rows = await this.#sql<PaymentRow[]>`
      SELECT ${this.#sql.unsafe(paymentSelect)} FROM payments WHERE order_id = ${orderId}`;
    return (await this.#withRefunds(rows))[0];
  }

  async findPaymentByIntent(paymentIntentId: string): Promise<Payment | undefined> {
    const rows = await this.#sql<PaymentRow[]>`
      SELECT ${
      this.#sql.unsafe(paymentSelect)
    } FROM payments WHERE stripe_payment_intent_id = ${paymentIntentId}`;
    return (await this.#withRefunds(rows))[0];
  }

  async listPayments(
    orderId: string,
    pageSize: number,
    after: PaymentCursor | undefined,
  ): Promise<PaymentPage> {
    const rows = after
      ? await this.#sql<PaymentRow[]>`
          SELECT ${this.#sql.unsafe(paymentSelect)} FROM payments
          WHERE order_id = ${orderId} AND (create_time, id) > (${after.createTime}, ${after.id})
          ORDER BY create_time, id LIMIT ${pageSize + 1}`
      : await this.#sql<PaymentRow[]>`
          SELECT ${this.#sql.unsafe(paymentSelect)} FROM payments
          WHERE order_id = ${orderId} ORDER BY create_time, id LIMIT ${pageSize + 1}`;
    const payments = await this.#withRefunds(rows.slice(0, pageSize));
    const last = payments[payments.length - 1];
    return {
      payments,
      next: rows.length > pageSize && last ? { createTime: last.createTime, id: last.id } : undefined,
    };
  }

  async beginRefund(refund: NewRefund): Promise<{ refund: Refund; created: boolean }> {
    try {
      return await this.#sql.begin(async (tx) => {
        // The payment's row lock serializes refunds of one payment: what is left is read and reserved
        // by one transaction at a time.
        const [payment] = await tx<
          { amount_minor: string; refund_reserved_minor: string; charge_status: string }[]
        >`
          SELECT amount_minor, refund_reserved_minor, charge_status FROM payments
          WHERE id = ${refund.paymentId} FOR UPDATE`;
        if (!payment) throw new Error(`payment ${refund.paymentId} not found`);
        const [existing] = await tx<RefundRow[]>`
          SELECT * FROM refunds WHERE idempotency_key = ${refund.idempotencyKey}`;
        if (existing) return { refund: toRefund(existing), created: false };
        if (payment.charge_status !== "succeeded") {
          throw invalidPaymentState("only a successful payment can be refunded");
        }
        const left = BigInt(payment.amount_minor) - BigInt(payment.refund_reserved_minor);
        if (refund.amountMinor <= 0n || refund.amountMinor > left) throw refundExceedsPayment(left);
        const [row] = await tx<RefundRow[]>`
          INSERT INTO refunds (id, payment_id, amount_minor, reason, idempotency_key, status, create_time, update_time)
          VALUES (${refund.id}, ${refund.paymentId}, ${refund.amountMinor.toString()}, ${refund.reason},
                  ${refund.idempotencyKey}, 'pending', ${refund.createTime}, ${refund.createTime})
          RETURNING *`;
        if (!row) throw new Error("INSERT returned no row");
        await tx`UPDATE payments SET update_time = ${refund.createTime} WHERE id = ${refund.paymentId}`;
        return { refund: toRefund(row), created: true };
      });
    } catch (error) {
      // The CHECK on payments is the backstop should anything above ever let too much through.
      if (error instanceof postgres.PostgresError && error.code === "23514") {
        const payment = await this.findPayment(refund.paymentId);
        const reserved = payment?.refunds.reduce((s, r) =>
          r.status === "failed" ? s : s + r.amountMinor, 0n) ?? 0n;
        throw refundExceedsPayment((payment?.amount.amountMinor ?? 0n) - reserved);
      }
      throw error;
    }
  }

  async settleRefund(refundId: string, settlement: RefundSettlement, now: Date): Promise<void> {
    await this.#sql.begin((tx) => settleRefund(tx, refundId, settlement, now));
  }

  async applyWebhookEvent(
    event: { id: string; type: string },
    effects: LedgerEffect[],
    now: Date,
  ): Promise<boolean> {
    // Only the event's id to keep: one statement needs no transaction.
    if (effects.length === 0) return await recordWebhookEvent(this.#sql, event, now);
    return await this.#sql.begin(async (tx) => {
      if (!await recordWebhookEvent(tx, event, now)) return false;
      for (const effect of effects) {
        if (effect.kind === "charge") await settleCharge(tx, effect.paymentId, effect.settlement, now, true);
        else await settleRefund(tx, effect.refundId, effect.settlement, now);
      }
      return true;
    });
  }

  async claimOrderNotices(now: Date, until: Date, limit: number): Promise<OrderNotice[]> {
    // SKIP LOCKED: instances relaying at the same moment take different notices instead of waiting.
    const rows = await this.#sql<NoticeRow[]>`
      UPDATE order_notices SET next_attempt_time = ${until}
      WHERE payment_id IN (
        SELECT payment_id FROM order_notices
        WHERE delivered_time IS NULL AND next_attempt_time <= ${now}
        ORDER BY next_attempt_time LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING payment_id, order_id, outcome, failure_reason, attempts, create_time, trace_parent`;
    return rows.map(toNotice).sort((a, b) => a.createTime.getTime() - b.createTime.getTime());
  }

  async markOrderNoticesDelivered(paymentIds: readonly string[], now: Date): Promise<void> {
    if (paymentIds.length === 0) return;
    await this.#sql`
      UPDATE order_notices SET delivered_time = ${now}
      WHERE payment_id IN ${this.#sql(paymentIds)} AND delivered_time IS NULL`;
  }

  async retryOrderNoticeAt(paymentId: string, at: Date): Promise<void> {
    await this.#sql`
      UPDATE order_notices SET attempts = attempts + 1, next_attempt_time = ${at}
      WHERE payment_id = ${paymentId} AND delivered_time IS NULL`;
  }

  async purgeDeliveredOrderNotices(before: Date): Promise<number> {
    const rows = await this.#sql`
      DELETE FROM order_notices WHERE delivered_time < ${before} RETURNING payment_id`;
    return rows.length;
  }

  async findStalePendingCharges(before: Date, limit: number): Promise<Payment[]> {
    const rows = await this.#sql<PaymentRow[]>`
      SELECT ${this.#sql.unsafe(paymentSelect)} FROM payments
      WHERE charge_status = 'pending' AND update_time < ${before}
      ORDER BY update_time LIMIT ${limit}`;
    return await this.#withRefunds(rows);
  }

  async #withRefunds(rows: PaymentRow[]): Promise<Payment[]> {
    if (!rows.some((row) => row.has_refunds !== false)) return rows.map((row) => toPayment(row, []));
    const refunds = await this.#sql<RefundRow[]>`
      SELECT * FROM refunds WHERE payment_id IN ${this.#sql(rows.map((row) => row.id))}
      ORDER BY create_time, id`;
    return rows.map((row) => toPayment(row, refunds.filter((r) => r.payment_id === row.id).map(toRefund)));
  }
}

/**
 * Only a pending charge takes an outcome; a missing PaymentIntent id is always recorded. With
 * `notifyOrder`, a charge that leaves PENDING here gets its order notice in the same transaction.
 */
async function settleCharge(
  tx: TransactionSql,
  id: string,
  settlement: ChargeSettlement,
  now: Date,
  notifyOrder: boolean,
): Promise<void> {
  const failureReason = settlement.kind === "failed" ? settlement.failureReason : "";
  // The row lock makes "was it pending?" and the change one step, whoever else settles it.
  const [before] = await tx<{ charge_status: ChargeStatus; order_id: string }[]>`
    SELECT charge_status, order_id FROM payments WHERE id = ${id} FOR UPDATE`;
  if (notifyOrder && before?.charge_status === "pending" && settlement.kind !== "pending") {
    await tx`
      INSERT INTO order_notices
        (payment_id, order_id, outcome, failure_reason, next_attempt_time, create_time, trace_parent)
      VALUES (${id}, ${before.order_id}, ${settlement.kind}, ${failureReason}, ${now}, ${now},
        ${currentTraceparent() ?? null})
      ON CONFLICT (payment_id) DO NOTHING`;
  }
  await updateCharge(tx, id, settlement, now);
}

/** Keeps a webhook event's id; false when it was kept before (the event is a repeat). */
async function recordWebhookEvent(
  sql: Sql | TransactionSql,
  event: { id: string; type: string },
  now: Date,
): Promise<boolean> {
  const [fresh] = await sql`
    INSERT INTO webhook_events (event_id, type, receive_time) VALUES (${event.id}, ${event.type}, ${now})
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id`;
  return fresh !== undefined;
}

/**
 * The UPDATE that records a charge's settlement: only a pending charge takes an outcome; a missing
 * PaymentIntent id is always recorded.
 */
function updateCharge(sql: Sql | TransactionSql, id: string, settlement: ChargeSettlement, now: Date) {
  const status = settlement.kind;
  const failureReason = settlement.kind === "failed" ? settlement.failureReason : "";
  const declineCode = settlement.kind === "failed" ? settlement.declineCode : "";
  // Every right-hand side reads the row as it was before this UPDATE.
  return sql`
    UPDATE payments SET
      stripe_payment_intent_id = COALESCE(stripe_payment_intent_id, ${settlement.paymentIntentId ?? null}),
      charge_status = CASE WHEN charge_status = 'pending' THEN ${status} ELSE charge_status END,
      failure_reason = CASE WHEN charge_status = 'pending' AND ${status} = 'failed' THEN ${failureReason}
                            ELSE failure_reason END,
      decline_code = CASE WHEN charge_status = 'pending' AND ${status} = 'failed' THEN ${declineCode}
                          ELSE decline_code END,
      update_time = ${now}
    WHERE id = ${id}`;
}

/** Only a pending refund takes an outcome; the trigger frees the amount of a failed one. */
async function settleRefund(
  tx: TransactionSql,
  id: string,
  settlement: RefundSettlement,
  now: Date,
): Promise<void> {
  const [row] = await tx<{ payment_id: string }[]>`
    UPDATE refunds SET
      status = ${settlement.kind},
      stripe_refund_id = COALESCE(${settlement.stripeRefundId ?? null}, stripe_refund_id),
      failure_reason = ${settlement.kind === "failed" ? settlement.failureReason : ""},
      update_time = ${now}
    WHERE id = ${id} AND status = 'pending'
    RETURNING payment_id`;
  if (row) await tx`UPDATE payments SET update_time = ${now} WHERE id = ${row.payment_id}`;
}
