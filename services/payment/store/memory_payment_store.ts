import { invalidPaymentState, refundExceedsPayment } from "../domain/errors.ts";
import { type Payment, type Refund, refundableMinor } from "../domain/payment.ts";
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

function byCreation(a: { createTime: Date; id: string }, b: { createTime: Date; id: string }): number {
  return a.createTime.getTime() - b.createTime.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function copy(payment: Payment): Payment {
  return { ...payment, amount: { ...payment.amount }, refunds: payment.refunds.map((r) => ({ ...r })) };
}

/**
 * The payment ledger in memory, for fast handler tests. Behaves as the PostgreSQL store does: the same
 * contract suite runs on both.
 *
 * @example
 * ```ts
 * const store = new MemoryPaymentStore();
 * ```
 */
export class MemoryPaymentStore implements PaymentStore {
  #payments = new Map<string, Payment>();
  #events = new Set<string>();
  #notices = new Map<string, OrderNotice & { due: Date; deliveredTime: Date | undefined }>();

  beginCharge(payment: NewPayment): Promise<{ payment: Payment; created: boolean }> {
    const existing = this.#byOrder(payment.orderId);
    if (existing) return Promise.resolve({ payment: copy(existing), created: false });
    const row: Payment = {
      ...payment,
      amount: { ...payment.amount },
      chargeStatus: "pending",
      stripePaymentIntentId: undefined,
      failureReason: "",
      declineCode: "",
      refunds: [],
      updateTime: payment.createTime,
    };
    this.#payments.set(row.id, row);
    return Promise.resolve({ payment: copy(row), created: true });
  }

  settleCharge(
    paymentId: string,
    settlement: ChargeSettlement,
    now: Date,
    options: { notifyOrder?: boolean } = {},
  ): Promise<Payment | undefined> {
    this.#settleCharge(paymentId, settlement, now, options.notifyOrder ?? false);
    const row = this.#payments.get(paymentId);
    return Promise.resolve(row ? copy(row) : undefined);
  }

  findPayment(id: string): Promise<Payment | undefined> {
    const row = this.#payments.get(id);
    return Promise.resolve(row ? copy(row) : undefined);
  }

  findPaymentByOrder(orderId: string): Promise<Payment | undefined> {
    const row = this.#byOrder(orderId);
    return Promise.resolve(row ? copy(row) : undefined);
  }

  findPaymentByIntent(paymentIntentId: string): Promise<Payment | undefined> {
    const row = [...this.#payments.values()].find((p) => p.stripePaymentIntentId === paymentIntentId);
    return Promise.resolve(row ? copy(row) : undefined);
  }

  listPayments(orderId: string, pageSize: number, after: PaymentCursor | undefined): Promise<PaymentPage> {
    const sorted = [...this.#payments.values()].filter((p) => p.orderId === orderId).sort(byCreation);
    const rest = after ? sorted.filter((p) => byCreation(p, after) > 0) : sorted;
    const payments = rest.slice(0, pageSize).map(copy);
    const last = payments[payments.length - 1];
    return Promise.resolve({
      payments,
      next: rest.length > pageSize && last ? { createTime: last.createTime, id: last.id } : undefined,
    });
  }

  beginRefund(refund: NewRefund): Promise<{ refund: Refund; created: boolean }> {
    const payment = this.#payments.get(refund.paymentId);
    if (!payment) return Promise.reject(new Error(`payment ${refund.paymentId} not found`));
    for (const other of this.#payments.values()) {
      const existing = other.refunds.find((r) => r.idempotencyKey === refund.idempotencyKey);
      if (existing) return Promise.resolve({ refund: { ...existing }, created: false });
    }
    if (payment.chargeStatus !== "succeeded") {
      return Promise.reject(invalidPaymentState("only a successful payment can be refunded"));
    }
    const left = refundableMinor(payment);
    if (refund.amountMinor <= 0n || refund.amountMinor > left) {
      return Promise.reject(refundExceedsPayment(left));
    }
    const row: Refund = {
      ...refund,
      status: "pending",
      stripeRefundId: undefined,
      failureReason: "",
      updateTime: refund.createTime,
    };
    payment.refunds.push(row);
    payment.updateTime = refund.createTime;
    return Promise.resolve({ refund: { ...row }, created: true });
  }

  settleRefund(refundId: string, settlement: RefundSettlement, now: Date): Promise<void> {
    this.#settleRefund(refundId, settlement, now);
    return Promise.resolve();
  }

  applyWebhookEvent(
    event: { id: string; type: string },
    effects: LedgerEffect[],
    now: Date,
  ): Promise<boolean> {
    if (this.#events.has(event.id)) return Promise.resolve(false);
    this.#events.add(event.id);
    for (const effect of effects) {
      if (effect.kind === "charge") this.#settleCharge(effect.paymentId, effect.settlement, now, true);
      else this.#settleRefund(effect.refundId, effect.settlement, now);
    }
    return Promise.resolve(true);
  }

  claimOrderNotices(now: Date, until: Date, limit: number): Promise<OrderNotice[]> {
    const due = [...this.#notices.values()]
      .filter((notice) => !notice.deliveredTime && notice.due <= now)
      .sort((a, b) => a.due.getTime() - b.due.getTime())
      .slice(0, limit);
    for (const notice of due) notice.due = until;
    return Promise.resolve(
      due.map(({ due: _due, deliveredTime: _delivered, ...notice }) => notice)
        .sort((a, b) => a.createTime.getTime() - b.createTime.getTime()),
    );
  }

  markOrderNoticesDelivered(paymentIds: readonly string[], now: Date): Promise<void> {
    for (const paymentId of paymentIds) {
      const notice = this.#notices.get(paymentId);
      if (notice && !notice.deliveredTime) notice.deliveredTime = now;
    }
    return Promise.resolve();
  }

  retryOrderNoticeAt(paymentId: string, at: Date): Promise<void> {
    const notice = this.#notices.get(paymentId);
    if (notice && !notice.deliveredTime) {
      notice.attempts += 1;
      notice.due = at;
    }
    return Promise.resolve();
  }

  purgeDeliveredOrderNotices(before: Date): Promise<number> {
    let purged = 0;
    for (const [id, notice] of this.#notices) {
      if (notice.deliveredTime && notice.deliveredTime < before) {
        this.#notices.delete(id);
        purged++;
      }
    }
    return Promise.resolve(purged);
  }

  findStalePendingCharges(before: Date, limit: number): Promise<Payment[]> {
    return Promise.resolve(
      [...this.#payments.values()]
        .filter((payment) => payment.chargeStatus === "pending" && payment.updateTime < before)
        .sort((a, b) => a.updateTime.getTime() - b.updateTime.getTime())
        .slice(0, limit)
        .map(copy),
    );
  }

  #byOrder(orderId: string): Payment | undefined {
    return [...this.#payments.values()].find((p) => p.orderId === orderId);
  }

  #settleCharge(paymentId: string, settlement: ChargeSettlement, now: Date, notifyOrder: boolean): void {
    const row = this.#payments.get(paymentId);
    if (!row) return;
    if (settlement.paymentIntentId && !row.stripePaymentIntentId) {
      row.stripePaymentIntentId = settlement.paymentIntentId;
      row.updateTime = now;
    }
    if (row.chargeStatus !== "pending" || settlement.kind === "pending") return;
    row.chargeStatus = settlement.kind;
    if (settlement.kind === "failed") {
      row.failureReason = settlement.failureReason;
      row.declineCode = settlement.declineCode;
    }
    row.updateTime = now;
    if (notifyOrder && !this.#notices.has(row.id)) {
      this.#notices.set(row.id, {
        paymentId: row.id,
        orderId: row.orderId,
        outcome: settlement.kind,
        failureReason: settlement.kind === "failed" ? settlement.failureReason : "",
        attempts: 0,
        createTime: now,
        due: now,
        deliveredTime: undefined,
      });
    }
  }

  #settleRefund(refundId: string, settlement: RefundSettlement, now: Date): void {
    for (const payment of this.#payments.values()) {
      const refund = payment.refunds.find((r) => r.id === refundId);
      if (!refund || refund.status !== "pending") continue;
      refund.status = settlement.kind;
      refund.stripeRefundId = settlement.stripeRefundId ?? refund.stripeRefundId;
      if (settlement.kind === "failed") refund.failureReason = settlement.failureReason;
      refund.updateTime = now;
      payment.updateTime = now;
    }
  }
}
