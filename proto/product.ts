/**
 * The product service's contracts (`shop.product.v1`): the public catalog and the internal inventory.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { ProductService } from "@shop/proto/product";
 * declare const transport: Transport;
 * const { products } = await createClient(ProductService, transport).listProducts({ pageSize: 10 });
 * ```
 * @module
 */
export * from "./gen/shop/product/v1/product_pb.ts";
export * from "./gen/shop/product/v1/product_service_pb.ts";
export * from "./gen/shop/product/v1/inventory_service_pb.ts";
