/**
 * The cart's clients of other services, as the ports of its domain: the catalog (the product service's
 * public `GetProduct`, no user needed) and the order service's internal `CartOrderService`.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { type CartOrderService, type Order, OrderStatus, type ShippingAddress } from "@shop/proto/order";
import type { ProductService } from "@shop/proto/product";
import type { CatalogProduct } from "../domain/cart.ts";
import type { Catalog, OrderPlacer, PlacedStatus } from "../domain/ports.ts";
import { dependencyError } from "./dependency_errors.ts";

/** What a checkout forwards to the order service besides the cart's lines. */
export interface CheckoutDetails {
  shippingAddress: ShippingAddress | undefined;
  paymentMethod: string;
  /** The caller's deadline, in milliseconds from now, when it has one. */
  timeoutMs?: number;
}

/**
 * The catalog over the product service: NOT_FOUND is a product that is gone; other failures are the
 * cart's dependency errors.
 *
 * @example
 * ```ts ignore
 * const catalog = catalogOverConnect(createClient(ProductService, transport));
 * ```
 */
export function catalogOverConnect(client: Client<typeof ProductService>): Catalog {
  return {
    async product(id: string): Promise<CatalogProduct | undefined> {
      try {
        const { product } = await client.getProduct({ id });
        if (!product) return undefined;
        return {
          id: product.id,
          name: product.name,
          price: {
            currencyCode: product.price?.currencyCode ?? "USD",
            amountMinor: product.price?.amountMinor ?? 0n,
          },
          stock: product.stock,
        };
      } catch (error) {
        if (error instanceof ConnectError && error.code === Code.NotFound) return undefined;
        throw dependencyError("product", error);
      }
    },
  };
}

function placedStatus(status: OrderStatus): PlacedStatus {
  switch (status) {
    case OrderStatus.PAID:
      return "paid";
    case OrderStatus.AWAITING_PAYMENT:
      return "awaiting_payment";
    case OrderStatus.FAILED:
      return "failed";
    default:
      return "other";
  }
}

/**
 * The order service, placing a customer's order from the cart (`CartOrderService.CreateCartOrder`).
 *
 * @example
 * ```ts ignore
 * const orders = ordersOverConnect(createClient(CartOrderService, transport));
 * ```
 */
export function ordersOverConnect(
  client: Client<typeof CartOrderService>,
): OrderPlacer<Order, CheckoutDetails> {
  return {
    async placeOrder(customerId, request, details) {
      try {
        const { order } = await client.createCartOrder({
          userId: customerId,
          order: {
            requestId: request.requestId,
            items: request.items,
            ...(details.shippingAddress ? { shippingAddress: details.shippingAddress } : {}),
            paymentMethod: details.paymentMethod,
          },
        }, details.timeoutMs === undefined ? {} : { timeoutMs: details.timeoutMs });
        if (!order) throw new Error("the order service answered without an order");
        return { status: placedStatus(order.status), order };
      } catch (error) {
        throw dependencyError("order", error);
      }
    },
  };
}
