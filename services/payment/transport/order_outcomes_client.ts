import type { Client } from "@connectrpc/connect";
import { PaymentOutcome, type PaymentOutcomeService } from "@shop/proto/order";
import type { OrderOutcomes } from "../domain/ports.ts";

/**
 * The relay's view of the order service, over its internal PaymentOutcomeService (which accepts only
 * the payment service's certificate). Any error is thrown: the relay sends the notice again later.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { PaymentOutcomeService } from "@shop/proto/order";
 * declare const transport: Transport;
 * const orders = orderOutcomesOverConnect(createClient(PaymentOutcomeService, transport));
 * ```
 */
export function orderOutcomesOverConnect(client: Client<typeof PaymentOutcomeService>): OrderOutcomes {
  return {
    async recordPaymentOutcome(notice, options) {
      await client.recordPaymentOutcome({
        orderId: notice.orderId,
        paymentId: notice.paymentId,
        outcome: notice.outcome === "succeeded" ? PaymentOutcome.SUCCEEDED : PaymentOutcome.FAILED,
        failureReason: notice.failureReason.slice(0, 500),
      }, { timeoutMs: options.timeoutMs });
    },
  };
}
