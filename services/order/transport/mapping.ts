import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Order as OrderProto,
  type OrderEvent as OrderEventProto,
  OrderEventSchema,
  OrderEventType,
  OrderSchema,
  OrderStatus as StatusProto,
} from "@shop/proto/order";
import type { Money, Order, OrderStatus } from "../domain/order.ts";
import type { OrderEvent } from "../domain/order_events.ts";

const toProto: Record<OrderStatus, StatusProto> = {
  pending: StatusProto.PENDING,
  awaiting_payment: StatusProto.AWAITING_PAYMENT,
  paid: StatusProto.PAID,
  shipped: StatusProto.SHIPPED,
  delivered: StatusProto.DELIVERED,
  failed: StatusProto.FAILED,
  cancelled: StatusProto.CANCELLED,
};

/**
 * The domain status of a contract status (UNSPECIFIED is refused by the proto rules first).
 *
 * @example
 * ```ts
 * statusFromProto(StatusProto.SHIPPED); // "shipped"
 * ```
 */
export function statusFromProto(status: StatusProto): OrderStatus {
  const found = (Object.entries(toProto) as Array<[OrderStatus, StatusProto]>).find(([, proto]) =>
    proto === status
  );
  return found?.[0] ?? "pending";
}

function money(value: Money | undefined) {
  return value ? { currencyCode: value.currencyCode, amountMinor: value.amountMinor } : undefined;
}

/**
 * A domain order as the contract shows it.
 *
 * @example
 * ```ts
 * declare const order: Order;
 * const message = toOrderProto(order);
 * ```
 */
export function toOrderProto(order: Order): OrderProto {
  return create(OrderSchema, {
    id: order.id,
    userId: order.userId,
    items: order.total === undefined
      ? order.items.map((item) => ({ productId: item.productId, quantity: item.quantity }))
      : order.items.map((item) => ({
        productId: item.productId,
        name: item.name,
        quantity: item.quantity,
        unitPrice: money(item.unitPrice),
      })),
    total: money(order.total),
    status: toProto[order.status],
    statusHistory: order.statusHistory.map((change) => ({
      status: toProto[change.status],
      reason: change.reason,
      time: timestampFromDate(change.time),
    })),
    failureReason: order.failureReason,
    shippingAddress: order.shippingAddress,
    createTime: timestampFromDate(order.createTime),
    updateTime: timestampFromDate(order.updateTime),
  });
}

/**
 * An outbox event as the contract shows it (`shop.order.v1.OrderEvent`).
 *
 * @example
 * ```ts
 * declare const event: OrderEvent;
 * const message = toOrderEventProto(event);
 * ```
 */
export function toOrderEventProto(event: OrderEvent): OrderEventProto {
  return create(OrderEventSchema, {
    eventId: event.id,
    orderId: event.orderId,
    sequence: BigInt(event.sequence),
    type: event.type === "refunded" ? OrderEventType.REFUNDED : OrderEventType.STATUS_CHANGED,
    time: timestampFromDate(event.time),
    status: toProto[event.status],
    reason: event.reason,
    order: toOrderProto(event.order),
    refunded: money(event.refunded),
  });
}
