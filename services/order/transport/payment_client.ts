import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { type PaymentProcessorService, PaymentStatus } from "@shop/proto/payment";
import { errorReasonOf } from "@shop/platform/client";
import type { Payments } from "../domain/ports.ts";

/** A charge may wait on Stripe's retries; it gets a longer deadline than other calls. */
const chargeTimeoutMs = 12_000;

/**
 * The checkout's payments over the payment service's PaymentProcessorService. A decline is an outcome;
 * anything else is thrown, and the saga retries it (the charge is idempotent by order id, so a retry
 * never charges twice).
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
    async charge(input) {
      try {
        const { payment } = await client.charge({
          orderId: input.orderId,
          userId: input.userId,
          amount: { currencyCode: input.amount.currencyCode, amountMinor: input.amount.amountMinor },
          paymentMethod: input.paymentMethod,
        }, { timeoutMs: chargeTimeoutMs });
        // A PENDING payment in an answer is one Stripe is processing (a lost answer is an error instead).
        return payment?.status === PaymentStatus.PENDING ? { kind: "processing" } : { kind: "paid" };
      } catch (error) {
        const refused = ConnectError.from(error);
        if (refused.code === Code.FailedPrecondition || refused.code === Code.InvalidArgument) {
          return { kind: "declined", reason: refused.rawMessage };
        }
        throw error;
      }
    },
    async refund(orderId, reason) {
      try {
        await client.refundOrder({ orderId, reason: reason.slice(0, 200) }, { timeoutMs: chargeTimeoutMs });
        return "refunded";
      } catch (error) {
        if (errorReasonOf(error) === "PAYMENT_PROCESSING") return "processing";
        throw error;
      }
    },
  };
}
