/**
 * Shared contract types of the shop (`shop.common.v1`): money and the error reasons every service uses.
 *
 * @example
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { MoneySchema } from "@shop/proto/common";
 * const price = create(MoneySchema, { currencyCode: "USD", amountMinor: 1999n });
 * ```
 * @module
 */
export * from "./gen/shop/common/v1/money_pb.ts";
export * from "./gen/shop/common/v1/error_reason_pb.ts";
