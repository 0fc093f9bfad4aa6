import { type Client, ConnectError } from "@connectrpc/connect";
import { errorReasonOf } from "@shop/platform/client";
import { type PaymentProcessorService, PaymentStatus } from "@shop/proto/payment";
import type { Payments } from "../domain/ports.ts";
import { dependencyError } from "./dependency_errors.ts";

/**
 * The checkout's payments over the payment service's PaymentProcessorService, read by
 * `ErrorInfo.reason`: PAYMENT_DECLINED is a decline (with the payment service's message, for the
 * customer); PAYMENT_PROCESSING on a refund says the charge is not captured yet; anything else becomes
 * the saga's dependency error (retried only when it may pass: the charge is idempotent by order id, so a
 * retry never charges twice).
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { PaymentProcessorService } from "@shop/proto/payment";
 * declare const transport: Transport;
 * const payments = paymentsOverConnect(createClient(PaymentProcessorService, transport));
 * ```
 */
export function paymentsOverConnect(client: Client<typeof PaymentProcessorService>): Payments {
  return {
    async charge(input, call) {
      try {
        const { payment } = await client.charge({
          orderId: input.orderId,
          userId: input.userId,
          amount: { currencyCode: input.amount.currencyCode, amountMinor: input.amount.amountMinor },
          paymentMethod: input.paymentMethod,
        }, { timeoutMs: call.timeoutMs });
        // A PENDING payment in an answer is one Stripe is processing (a lost answer is an error instead).
        return payment?.status === PaymentStatus.PENDING ? { kind: "processing" } : { kind: "paid" };
      } catch (error) {
        if (errorReasonOf(error) === "PAYMENT_DECLINED") {
          return { kind: "declined", reason: ConnectError.from(error).rawMessage };
        }
        throw dependencyError(error);
      }
    },
    async refund(orderId, reason, call) {
      try {
        const { payment } = await client.refundOrder(
          { orderId, reason: reason.slice(0, 200) },
          { timeoutMs: call.timeoutMs },
        );
        const refunded = payment?.refundedAmount;
        return {
          kind: "refunded",
          refunded: refunded && { currencyCode: refunded.currencyCode, amountMinor: refunded.amountMinor },
        };
      } catch (error) {
        if (errorReasonOf(error) === "PAYMENT_PROCESSING") return { kind: "processing" };
        throw dependencyError(error);
      }
    },
  };
}
