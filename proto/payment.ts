/**
 * The payment service's contracts (`shop.payment.v1`): the public ledger and the internal processor.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { PaymentService } from "@shop/proto/payment";
 * declare const transport: Transport;
 * const { payments } = await createClient(PaymentService, transport).listPayments({ orderId: "..." });
 * ```
 * @module
 */
export * from "./gen/shop/payment/v1/payment_pb.ts";
export * from "./gen/shop/payment/v1/payment_service_pb.ts";
export * from "./gen/shop/payment/v1/payment_processor_service_pb.ts";
