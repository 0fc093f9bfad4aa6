/**
 * The cart service's contracts (`shop.cart.v1`): the signed-in customer's cart and its checkout.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { CartService } from "@shop/proto/cart";
 * declare const transport: Transport;
 * const { cart } = await createClient(CartService, transport).getCart({});
 * ```
 * @module
 */
export * from "./gen/shop/cart/v1/cart_pb.ts";
export * from "./gen/shop/cart/v1/cart_service_pb.ts";
