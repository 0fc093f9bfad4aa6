/**
 * The cart service's Connect handlers (`shop.cart.v1.CartService`): every call acts on the signed-in
 * caller's own cart (the gateway's verified claims, `requireUser`); no request field names a customer.
 *
 * @module
 */
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { requireUser } from "@shop/platform/auth";
import { callerDeadline } from "@shop/platform/server";
import { type CartSchema, CartService } from "@shop/proto/cart";
import type { Order } from "@shop/proto/order";
import type { CartView } from "../domain/cart.ts";
import type { Carts } from "../domain/carts.ts";
import type { CheckoutDetails } from "./dependencies.ts";

function toCartProto(view: CartView): MessageInitShape<typeof CartSchema> {
  return {
    items: view.items.map((item) => ({
      productId: item.productId,
      quantity: item.quantity,
      name: item.name,
      ...(item.unitPrice ? { unitPrice: item.unitPrice } : {}),
      available: item.available,
    })),
    subtotal: view.subtotal,
    ...(view.updateTime ? { updateTime: timestampFromDate(view.updateTime) } : {}),
  };
}

/** The time left before the caller gives up, which the order service must not outlive. */
function timeLeft(ctx: HandlerContext): { timeoutMs?: number } {
  const deadline = callerDeadline(ctx);
  return deadline === undefined ? {} : { timeoutMs: Math.max(1, deadline - Date.now()) };
}

/**
 * The routes of `shop.cart.v1.CartService` on the cart's use cases.
 *
 * @example
 * ```ts ignore
 * import { createRouterTransport } from "@connectrpc/connect";
 * const transport = createRouterTransport(cartRoutes(carts));
 * ```
 */
export function cartRoutes(carts: Carts<Order, CheckoutDetails>): (router: ConnectRouter) => void {
  return (router) => {
    router.service(CartService, {
      async getCart(_request, ctx) {
        return { cart: toCartProto(await carts.view(requireUser(ctx).id)) };
      },
      async addItem(request, ctx) {
        const line = { productId: request.productId, quantity: request.quantity };
        return { cart: toCartProto(await carts.add(requireUser(ctx).id, line)) };
      },
      async setQuantity(request, ctx) {
        const line = { productId: request.productId, quantity: request.quantity };
        return { cart: toCartProto(await carts.setQuantity(requireUser(ctx).id, line)) };
      },
      async clearCart(_request, ctx) {
        await carts.clear(requireUser(ctx).id);
        return {};
      },
      async checkout(request, ctx) {
        const order = await carts.checkout(requireUser(ctx).id, request.requestId, {
          shippingAddress: request.shippingAddress,
          paymentMethod: request.paymentMethod,
          ...timeLeft(ctx),
        });
        return { order };
      },
    });
  };
}
