import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { OrderNotificationService } from "@shop/proto/notification";
import type { Notifications, NotifyOutcome } from "../domain/notifications.ts";
import { orderEventFromProto } from "./mapping.ts";

/** The internal service and the one caller it accepts (by certificate name): the order service. */
export const notificationAllowedPeers: Readonly<Record<string, readonly string[]>> = {
  [OrderNotificationService.typeName]: ["order"],
};

/**
 * The notification service's Connect handlers: `shop.notification.v1.OrderNotificationService`.
 *
 * @example
 * ```ts
 * import { createRouterTransport } from "@connectrpc/connect";
 * declare const notifications: Notifications;
 * const transport = createRouterTransport(notificationRoutes(notifications));
 * ```
 */
export function notificationRoutes(
  notifications: Notifications,
  options: { onNotified?: (outcome: NotifyOutcome) => void } = {},
): (router: ConnectRouter) => void {
  return (router) => {
    router.service(OrderNotificationService, {
      async notifyOrderEvent(request) {
        const event = request.event && orderEventFromProto(request.event);
        if (!event) throw new ConnectError("the event has no order, status or time", Code.InvalidArgument);
        options.onNotified?.(await notifications.notify(event));
        return {};
      },
    });
  };
}
