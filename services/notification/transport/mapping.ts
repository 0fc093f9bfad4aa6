import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type OrderEvent as OrderEventProto, OrderEventType, OrderStatus } from "@shop/proto/order";
import type { AnnouncedStatus, Money, OrderEvent } from "../domain/order_event.ts";

const statuses: Partial<Record<OrderStatus, AnnouncedStatus>> = {
  [OrderStatus.PENDING]: "pending",
  [OrderStatus.AWAITING_PAYMENT]: "awaiting_payment",
  [OrderStatus.PAID]: "paid",
  [OrderStatus.SHIPPED]: "shipped",
  [OrderStatus.DELIVERED]: "delivered",
  [OrderStatus.FAILED]: "failed",
  [OrderStatus.CANCELLED]: "cancelled",
};

function money(value: { currencyCode: string; amountMinor: bigint } | undefined): Money | undefined {
  return value ? { currencyCode: value.currencyCode, amountMinor: value.amountMinor } : undefined;
}

/**
 * The domain event of a contract event; undefined when it lacks what an email needs (its order).
 *
 * @example
 * ```ts
 * declare const message: OrderEventProto;
 * const event = orderEventFromProto(message);
 * ```
 */
export function orderEventFromProto(message: OrderEventProto): OrderEvent | undefined {
  const order = message.order;
  const status = statuses[message.status];
  if (!order || !status || !message.time) return undefined;
  const address = order.shippingAddress;
  return {
    id: message.eventId,
    orderId: message.orderId,
    userId: order.userId,
    sequence: Number(message.sequence),
    type: message.type === OrderEventType.REFUNDED ? "refunded" : "status_changed",
    time: timestampDate(message.time),
    status,
    reason: message.reason,
    lines: order.items.map((item) => ({
      name: item.name || item.productId,
      quantity: item.quantity,
      unitPrice: money(item.unitPrice),
    })),
    total: money(order.total),
    shipTo: {
      name: address?.name ?? "",
      line1: address?.line1 ?? "",
      line2: address?.line2 ?? "",
      city: address?.city ?? "",
      postalCode: address?.postalCode ?? "",
      country: address?.country ?? "",
    },
    refunded: money(message.refunded),
  };
}
