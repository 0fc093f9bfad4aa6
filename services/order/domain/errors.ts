/**
 * The order rules' failures, as the caller sees them: each a {@linkcode DomainError} with a stable
 * reason, mapped to gRPC by the kit.
 *
 * @module
 */
import { DomainError, invalidArgument, notFound } from "@shop/platform/errors";
import { type OrderStatus, statusName } from "./order.ts";

/**
 * No such order, or one the caller may not see (NOT_FOUND either way: no hint that it exists).
 *
 * @example
 * ```ts
 * throw orderNotFound("o-1");
 * ```
 */
export function orderNotFound(orderId: string): DomainError {
  return notFound("order", orderId);
}

/**
 * Another request drives the order's checkout right now: ABORTED, try again in a moment.
 *
 * @example
 * ```ts
 * throw orderBusy("o-1");
 * ```
 */
export function orderBusy(orderId: string): DomainError {
  return new DomainError("aborted", "INVALID_STATE", "the order is being processed; try again in a moment", {
    metadata: { order_id: orderId },
  });
}

/**
 * The status machine does not allow the move (FAILED_PRECONDITION naming both states).
 *
 * @example
 * ```ts
 * throw illegalTransition("o-1", "shipped", "cancelled");
 * ```
 */
export function illegalTransition(orderId: string, from: OrderStatus, to: OrderStatus): DomainError {
  return new DomainError(
    "failed_precondition",
    "INVALID_STATE",
    `an order that is ${statusName(from)} cannot become ${statusName(to)}`,
    { metadata: { order_id: orderId, from, to } },
  );
}

/**
 * Admins set only SHIPPED and DELIVERED by hand; the saga and CancelOrder own the other statuses.
 *
 * @example
 * ```ts
 * throw notSettableByHand("o-1", "paid", "cancelled");
 * ```
 */
export function notSettableByHand(orderId: string, from: OrderStatus, to: OrderStatus): DomainError {
  const hint = to === "cancelled" ? "; use CancelOrder, which returns the stock and refunds" : "";
  return new DomainError(
    "failed_precondition",
    "INVALID_STATE",
    `an order that is ${statusName(from)} cannot be set to ${statusName(to)} by hand${hint}`,
    { metadata: { order_id: orderId, from, to } },
  );
}

/**
 * Cancelling must wait for the outcome of a payment in flight.
 *
 * @example
 * ```ts
 * throw paymentProcessing("o-1");
 * ```
 */
export function paymentProcessing(orderId: string): DomainError {
  return new DomainError(
    "failed_precondition",
    "PAYMENT_PROCESSING",
    "the order's payment is still processing; it can be cancelled once the payment has completed",
    { metadata: { order_id: orderId } },
  );
}

/**
 * Only admins may list other customers' orders.
 *
 * @example
 * ```ts
 * throw othersOrdersDenied();
 * ```
 */
export function othersOrdersDenied(): DomainError {
  return new DomainError(
    "permission_denied",
    "PERMISSION_DENIED",
    "only admins may list other users' orders",
  );
}

/**
 * An order names one product on two lines.
 *
 * @example
 * ```ts
 * throw productListedTwice(1);
 * ```
 */
export function productListedTwice(index: number): DomainError {
  return invalidArgument([{ field: `items[${index}].product_id`, description: "lists a product twice" }]);
}

/**
 * The catalog priced the lines of one order in different currencies.
 *
 * @example
 * ```ts
 * throw mixedCurrencies("o-1");
 * ```
 */
export function mixedCurrencies(orderId: string): DomainError {
  return new DomainError(
    "failed_precondition",
    "INVALID_STATE",
    "the items of one order must share a currency",
    {
      metadata: { order_id: orderId },
    },
  );
}

/**
 * The inventory's answer left a line of the order without a price.
 *
 * @example
 * ```ts
 * throw unpricedItem("o-1", "p-1");
 * ```
 */
export function unpricedItem(orderId: string, productId: string): DomainError {
  return new DomainError(
    "failed_precondition",
    "INVALID_STATE",
    `the stock service did not price product ${productId}`,
    { metadata: { order_id: orderId, product_id: productId } },
  );
}
