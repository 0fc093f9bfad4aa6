import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Money as MoneyProto, MoneySchema } from "@shop/proto/common";
import {
  type Product as ProductProto,
  ProductSchema,
  type Reservation as ReservationProto,
  ReservationSchema,
  ReservationStatus as ReservationStatusProto,
} from "@shop/proto/product";
import type { ProductInput } from "../domain/catalog.ts";
import type { Money, Product } from "../domain/product.ts";
import type { Reservation, ReservationStatus } from "../domain/reservation.ts";

/**
 * Domain money as the contract shows it.
 *
 * @example
 * ```ts
 * toMoneyProto({ currencyCode: "USD", amountMinor: 1999n }).amountMinor; // 1999n
 * ```
 */
export function toMoneyProto(money: Money): MoneyProto {
  return create(MoneySchema, { currencyCode: money.currencyCode, amountMinor: money.amountMinor });
}

/**
 * A domain product as the contract shows it.
 *
 * @example
 * ```ts
 * declare const product: Product;
 * const message = toProductProto(product);
 * ```
 */
export function toProductProto(product: Product): ProductProto {
  return create(ProductSchema, {
    id: product.id,
    sku: product.sku,
    name: product.name,
    description: product.description,
    category: product.category,
    price: toMoneyProto(product.price),
    stock: product.stock,
    images: product.images.map((image) => ({ uri: image.uri, altText: image.altText })),
    createTime: timestampFromDate(product.createTime),
    updateTime: timestampFromDate(product.updateTime),
  });
}

/**
 * What a request's product says, as domain input (unset money is an empty one the rules refuse).
 *
 * @example
 * ```ts
 * declare const message: ProductProto;
 * const input = productInputOf(message);
 * ```
 */
export function productInputOf(product: ProductProto | undefined): ProductInput {
  return {
    sku: product?.sku ?? "",
    name: product?.name ?? "",
    description: product?.description ?? "",
    category: product?.category ?? "",
    price: {
      currencyCode: product?.price?.currencyCode ?? "",
      amountMinor: product?.price?.amountMinor ?? 0n,
    },
    stock: product?.stock ?? 0,
    images: (product?.images ?? []).map((image) => ({ uri: image.uri, altText: image.altText })),
  };
}

const statusToProto: Record<ReservationStatus, ReservationStatusProto> = {
  pending: ReservationStatusProto.UNSPECIFIED,
  reserved: ReservationStatusProto.RESERVED,
  committed: ReservationStatusProto.COMMITTED,
  // A failed reservation holds nothing, like a released one (a reserve call reports OUT_OF_STOCK).
  failed: ReservationStatusProto.RELEASED,
  released: ReservationStatusProto.RELEASED,
  expired: ReservationStatusProto.EXPIRED,
};

/**
 * A domain reservation as the contract shows it.
 *
 * @example
 * ```ts
 * declare const reservation: Reservation;
 * const message = toReservationProto(reservation);
 * ```
 */
export function toReservationProto(reservation: Reservation): ReservationProto {
  return create(ReservationSchema, {
    orderId: reservation.orderId,
    items: reservation.lines.map((line) => ({
      productId: line.productId,
      name: line.name,
      unitPrice: toMoneyProto(line.unitPrice),
      quantity: line.quantity,
    })),
    status: statusToProto[reservation.status],
    expireTime: timestampFromDate(reservation.expireTime),
    createTime: timestampFromDate(reservation.createTime),
    updateTime: timestampFromDate(reservation.updateTime),
  });
}
