import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Money as MoneyProto, MoneySchema } from "@shop/proto/common";
import {
  type Payment as PaymentProto,
  PaymentSchema,
  PaymentStatus as PaymentStatusProto,
  RefundSchema,
} from "@shop/proto/payment";
import { type Money, type Payment, paymentStatusOf, refundedMinor } from "../domain/payment.ts";

const statuses = {
  pending: PaymentStatusProto.PENDING,
  succeeded: PaymentStatusProto.SUCCEEDED,
  failed: PaymentStatusProto.FAILED,
  partially_refunded: PaymentStatusProto.PARTIALLY_REFUNDED,
  refunded: PaymentStatusProto.REFUNDED,
} as const;

/**
 * Money as the contract shows it.
 *
 * @example
 * ```ts
 * toMoneyProto({ currencyCode: "USD", amountMinor: 1999n });
 * ```
 */
export function toMoneyProto(money: Money): MoneyProto {
  return create(MoneySchema, { currencyCode: money.currencyCode, amountMinor: money.amountMinor });
}

/**
 * Contract money as the domain's (protovalidate has checked the currency pattern and the range).
 *
 * @example
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * moneyFromProto(create(MoneySchema, { currencyCode: "USD", amountMinor: 1999n }));
 * ```
 */
export function moneyFromProto(money: MoneyProto): Money {
  return { currencyCode: money.currencyCode, amountMinor: money.amountMinor };
}

/**
 * A payment as the contract shows it: the refunds listed (and summed in `refunded_amount`) are the ones
 * that went through; a refund still in flight is not money returned yet.
 *
 * @example
 * ```ts
 * declare const payment: Payment;
 * toPaymentProto(payment).status; // PaymentStatus.SUCCEEDED
 * ```
 */
export function toPaymentProto(payment: Payment): PaymentProto {
  const currencyCode = payment.amount.currencyCode;
  return create(PaymentSchema, {
    id: payment.id,
    orderId: payment.orderId,
    userId: payment.userId,
    amount: toMoneyProto(payment.amount),
    refundedAmount: toMoneyProto({ currencyCode, amountMinor: refundedMinor(payment) }),
    status: statuses[paymentStatusOf(payment)],
    stripePaymentIntentId: payment.stripePaymentIntentId ?? "",
    refunds: payment.refunds.filter((refund) => refund.status === "succeeded").map((refund) =>
      create(RefundSchema, {
        id: refund.id,
        amount: toMoneyProto({ currencyCode, amountMinor: refund.amountMinor }),
        stripeRefundId: refund.stripeRefundId ?? "",
        reason: refund.reason,
        createTime: timestampFromDate(refund.createTime),
      })
    ),
    failureReason: payment.failureReason,
    declineCode: payment.declineCode,
    createTime: timestampFromDate(payment.createTime),
    updateTime: timestampFromDate(payment.updateTime),
  });
}
