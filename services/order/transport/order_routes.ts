import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { requireAdmin, requireUser, type UserClaims } from "@shop/platform/auth";
import { invalidArgument } from "@shop/platform/errors";
import { callerDeadline } from "@shop/platform/server";
import { decodeTimeCursor, encodeTimeCursor, pageSizeOf } from "@shop/platform/paging";
import {
  CartOrderService,
  type CreateOrderRequest,
  OrderService,
  PaymentOutcome,
  PaymentOutcomeService,
} from "@shop/proto/order";
import type { CallerDeadline, Checkout, Customer } from "../domain/checkout.ts";
import { statusFromProto, toOrderProto } from "./mapping.ts";

function customer(user: UserClaims): Customer {
  return { id: user.id, role: user.role };
}

/** The caller's deadline (its own, or the gateway's), which the saga must not outlive. */
function deadlineOf(ctx: HandlerContext): CallerDeadline {
  const deadline = callerDeadline(ctx);
  return deadline === undefined ? {} : { deadline };
}

/**
 * Internal services only certain peers may call (the kit refuses every other certificate): the payment
 * outcomes come from the payment service alone, orders placed from a cart from the cart service alone.
 */
export const orderAllowedPeers: Readonly<Record<string, readonly string[]>> = {
  [PaymentOutcomeService.typeName]: ["payment"],
  [CartOrderService.typeName]: ["cart"],
};

/** What `placeOrder` takes, from a `CreateOrderRequest`. */
function placement(request: CreateOrderRequest): Parameters<Checkout["placeOrder"]>[1] {
  const address = request.shippingAddress;
  return {
    requestId: request.requestId,
    items: request.items.map(({ productId, quantity }) => ({ productId, quantity })),
    shippingAddress: {
      name: address?.name ?? "",
      line1: address?.line1 ?? "",
      line2: address?.line2 ?? "",
      city: address?.city ?? "",
      postalCode: address?.postalCode ?? "",
      country: address?.country ?? "",
    },
    paymentMethod: request.paymentMethod,
  };
}

/**
 * The order service's Connect handlers: the public `shop.order.v1.OrderService` and the internal
 * `shop.order.v1.PaymentOutcomeService` (the payment service only) and `shop.order.v1.CartOrderService` (the
 * cart service only), see {@linkcode orderAllowedPeers}.
 *
 * @example
 * ```ts
 * import { createRouterTransport } from "@connectrpc/connect";
 * declare const checkout: Checkout;
 * const transport = createRouterTransport(orderRoutes(checkout));
 * ```
 */
export function orderRoutes(checkout: Checkout): (router: ConnectRouter) => void {
  return (router) => {
    router.service(OrderService, {
      async createOrder(request, ctx) {
        const order = await checkout.placeOrder(
          customer(requireUser(ctx)),
          placement(request),
          deadlineOf(ctx),
        );
        return { order: toOrderProto(order) };
      },
      async getOrder(request, ctx) {
        return { order: toOrderProto(await checkout.getOrder(customer(requireUser(ctx)), request.id)) };
      },
      async listOrders(request, ctx) {
        const cursor = decodeTimeCursor(request.pageToken);
        const page = await checkout.listOrders(
          customer(requireUser(ctx)),
          request.userId,
          pageSizeOf(request.pageSize),
          cursor,
        );
        return {
          orders: page.orders.map(toOrderProto),
          nextPageToken: encodeTimeCursor(page.next),
        };
      },
      async cancelOrder(request, ctx) {
        const order = await checkout.cancelOrder(
          customer(requireUser(ctx)),
          request.id,
          request.reason,
          deadlineOf(ctx),
        );
        return { order: toOrderProto(order) };
      },
      async updateOrderStatus(request, ctx) {
        requireAdmin(ctx);
        const order = await checkout.updateStatus(
          request.id,
          statusFromProto(request.status),
          request.reason,
        );
        return { order: toOrderProto(order) };
      },
    });
    router.service(CartOrderService, {
      // The cart service (its certificate, see orderAllowedPeers) places the order of the customer whose
      // cart it checks out; the customer is never an admin here, whatever the cart says.
      async createCartOrder(request, ctx) {
        if (!request.order) throw invalidArgument([{ field: "order", description: "is required" }]);
        const placed = placement(request.order);
        const order = await checkout.placeOrder(
          { id: request.userId, role: "customer" },
          placed,
          deadlineOf(ctx),
        );
        return { order: toOrderProto(order) };
      },
    });
    router.service(PaymentOutcomeService, {
      async recordPaymentOutcome(request, ctx) {
        await checkout.recordPaymentOutcome(
          request.orderId,
          request.outcome === PaymentOutcome.SUCCEEDED
            ? { kind: "succeeded", paymentId: request.paymentId }
            : {
              kind: "failed",
              paymentId: request.paymentId,
              reason: request.failureReason || "the payment failed",
            },
          deadlineOf(ctx),
        );
        return {};
      },
    });
  };
}
