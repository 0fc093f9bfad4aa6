import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { InventoryService } from "@shop/proto/product";
import type { Inventory, PricedLine } from "../domain/ports.ts";

/** Codes that are a final answer about the request, not a sign the product service is unwell. */
const final = new Set([Code.FailedPrecondition, Code.NotFound, Code.InvalidArgument]);

/**
 * The checkout's inventory over the product service's InventoryService. Final refusals (out of stock,
 * unknown product) become outcomes; anything else is thrown, and the saga retries it.
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
    async reserve(orderId, items) {
      try {
        const { reservation } = await client.reserveStock({
          orderId,
          items: items.map(({ productId, quantity }) => ({ productId, quantity })),
        });
        const lines = (reservation?.items ?? []).map((item): PricedLine => ({
          productId: item.productId,
          quantity: item.quantity,
          name: item.name,
          unitPrice: {
            currencyCode: item.unitPrice?.currencyCode ?? "",
            amountMinor: item.unitPrice?.amountMinor ?? 0n,
          },
        }));
        return { kind: "reserved", lines };
      } catch (error) {
        const refused = ConnectError.from(error);
        if (final.has(refused.code)) return { kind: "refused", reason: refused.rawMessage };
        throw error;
      }
    },
    async commit(orderId) {
      try {
        await client.commitReservation({ orderId });
        return true;
      } catch (error) {
        if (final.has(ConnectError.from(error).code)) return false;
        throw error;
      }
    },
    async release(orderId, reason) {
      await client.releaseReservation({ orderId, reason: reason.slice(0, 200) });
    },
  };
}
