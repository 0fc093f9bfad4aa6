import type { Client } from "@connectrpc/connect";
import type { OrderNotificationService } from "@shop/proto/notification";
import type { OrderEventReceiver } from "../domain/order_event_relay.ts";
import { toOrderEventProto } from "./mapping.ts";

/**
 * The relay's view of the notification service, over its internal OrderNotificationService (which
 * accepts only the order service's certificate). Any error is thrown: the relay sends the event again
 * later.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { OrderNotificationService } from "@shop/proto/notification";
 * declare const transport: Transport;
 * const receiver = notificationsOverConnect(createClient(OrderNotificationService, transport));
 * ```
 */
export function notificationsOverConnect(
  client: Client<typeof OrderNotificationService>,
): OrderEventReceiver {
  return {
    async notifyOrderEvent(event, options) {
      await client.notifyOrderEvent({ event: toOrderEventProto(event) }, { timeoutMs: options.timeoutMs });
    },
  };
}
