import { type Client, ConnectError } from "@connectrpc/connect";
import { errorReasonOf } from "@shop/platform/client";
import type { InventoryService } from "@shop/proto/product";
import type { PricedItem } from "../domain/order.ts";
import type { Inventory } from "../domain/ports.ts";
import { dependencyError } from "./dependency_errors.ts";

/** The product service's answers to a reservation that are a final "no" for the customer. */
const refusals = new Set(["OUT_OF_STOCK", "NOT_FOUND", "INVALID_ARGUMENT"]);
/** Its answers to a commit that say the reservation is gone (expired or released). */
const gone = new Set(["INVALID_STATE", "NOT_FOUND"]);

/**
 * The checkout's inventory over the product service's InventoryService, read by `ErrorInfo.reason`:
 * out of stock or an unknown product is a refusal, a reservation that is gone cannot be committed;
 * anything else becomes the saga's dependency error (retried only when it may pass).
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { InventoryService } from "@shop/proto/product";
 * declare const transport: Transport;
 * const inventory = inventoryOverConnect(createClient(InventoryService, transport));
 * ```
 */
export function inventoryOverConnect(client: Client<typeof InventoryService>): Inventory {
  return {
    async reserve(orderId, items, call) {
      try {
        const { reservation } = await client.reserveStock({
          orderId,
          items: items.map(({ productId, quantity }) => ({ productId, quantity })),
        }, { timeoutMs: call.timeoutMs });
        const lines = (reservation?.items ?? []).flatMap((item): PricedItem[] =>
          item.unitPrice
            ? [{
              productId: item.productId,
              quantity: item.quantity,
              name: item.name,
              unitPrice: {
                currencyCode: item.unitPrice.currencyCode,
                amountMinor: item.unitPrice.amountMinor,
              },
            }]
            : []
        );
        return { kind: "reserved", lines };
      } catch (error) {
        if (refusals.has(errorReasonOf(error) ?? "")) {
          return { kind: "refused", reason: ConnectError.from(error).rawMessage };
        }
        throw dependencyError(error);
      }
    },
    async commit(orderId, call) {
      try {
        await client.commitReservation({ orderId }, { timeoutMs: call.timeoutMs });
        return true;
      } catch (error) {
        if (gone.has(errorReasonOf(error) ?? "")) return false;
        throw dependencyError(error);
      }
    },
    async release(orderId, reason, call) {
      try {
        await client.releaseReservation({ orderId, reason: reason.slice(0, 200) }, {
          timeoutMs: call.timeoutMs,
        });
      } catch (error) {
        throw dependencyError(error);
      }
    },
  };
}
