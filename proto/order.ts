/**
 * The order service's contracts (`shop.order.v1`): checkout and order history.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { OrderService } from "@shop/proto/order";
 * declare const transport: Transport;
 * const { orders } = await createClient(OrderService, transport).listOrders({});
 * ```
 * @module
 */
export * from "./gen/shop/order/v1/order_pb.ts";
export * from "./gen/shop/order/v1/order_service_pb.ts";
export * from "./gen/shop/order/v1/payment_outcome_service_pb.ts";
export * from "./gen/shop/order/v1/order_event_pb.ts";
export * from "./gen/shop/order/v1/cart_order_service_pb.ts";
