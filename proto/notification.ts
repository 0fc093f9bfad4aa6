/**
 * The notification service's contracts (`shop.notification.v1`): order events in, emails out.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { OrderNotificationService } from "@shop/proto/notification";
 * declare const transport: Transport;
 * const client = createClient(OrderNotificationService, transport);
 * ```
 * @module
 */
export * from "./gen/shop/notification/v1/order_notification_service_pb.ts";
