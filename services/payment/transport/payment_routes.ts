import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { callerDeadline } from "@shop/platform/server";
import { requireAdmin, requireUser } from "@shop/platform/auth";
import { invalidArgument } from "@shop/platform/errors";
import { decodeTimeCursor, encodeTimeCursor, pageSizeOf } from "@shop/platform/paging";
import { PaymentProcessorService, PaymentService } from "@shop/proto/payment";
import type { CallDeadline, Payments } from "../domain/payments.ts";
import { moneyFromProto, toPaymentProto } from "./mapping.ts";

/** The internal processor is for the order service alone (identified by its mTLS certificate). */
export const paymentAllowedPeers: Readonly<Record<string, readonly string[]>> = {
  [PaymentProcessorService.typeName]: ["order"],
};

/** The caller's deadline, so Stripe retries stop in time for the answer to reach them. */
function deadlineOf(ctx: HandlerContext): CallDeadline {
  const deadline = callerDeadline(ctx);
  return deadline === undefined ? {} : { deadline };
}

/**
 * The payment service's Connect handlers: the internal `shop.payment.v1.PaymentProcessorService` (order
 * service only, see {@linkcode paymentAllowedPeers}) and the public `shop.payment.v1.PaymentService`.
 *
 * @example
 * ```ts
 * import { createRouterTransport } from "@connectrpc/connect";
 * declare const payments: Payments;
 * const transport = createRouterTransport(paymentRoutes(payments));
 * ```
 */
export function paymentRoutes(payments: Payments): (router: ConnectRouter) => void {
  return (router) => {
    router.service(PaymentProcessorService, {
      async charge(request, ctx) {
        if (!request.amount) throw invalidArgument([{ field: "amount", description: "is required" }]);
        const payment = await payments.charge({
          orderId: request.orderId,
          userId: request.userId,
          amount: moneyFromProto(request.amount),
          paymentMethod: request.paymentMethod,
        }, deadlineOf(ctx));
        return { payment: toPaymentProto(payment) };
      },
      async refundOrder(request, ctx) {
        const payment = await payments.refundOrder(request.orderId, request.reason, deadlineOf(ctx));
        return payment ? { payment: toPaymentProto(payment) } : {};
      },
    });
    router.service(PaymentService, {
      async listPayments(request, ctx) {
        const user = requireUser(ctx);
        const cursor = decodeTimeCursor(request.pageToken);
        const page = await payments.listPayments(
          request.orderId,
          user,
          pageSizeOf(request.pageSize),
          cursor,
        );
        return {
          payments: page.payments.map(toPaymentProto),
          nextPageToken: encodeTimeCursor(page.next),
        };
      },
      async getPayment(request, ctx) {
        return { payment: toPaymentProto(await payments.payment(request.id, requireUser(ctx))) };
      },
      async refundPayment(request, ctx) {
        requireAdmin(ctx);
        const payment = await payments.refundPayment({
          paymentId: request.id,
          amount: request.amount ? moneyFromProto(request.amount) : undefined,
          reason: request.reason,
          requestId: request.requestId || undefined,
        }, deadlineOf(ctx));
        return { payment: toPaymentProto(payment) };
      },
    });
  };
}
