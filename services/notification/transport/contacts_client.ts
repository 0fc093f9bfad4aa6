import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { CustomerContactService } from "@shop/proto/user";
import { type Contacts, dependencyUnavailable } from "../domain/ports.ts";

/**
 * The customers' contacts, from the user service's internal CustomerContactService (which answers the
 * notification service only). NOT_FOUND is an account that is gone; anything else is UNAVAILABLE for
 * now, so the relay tries the event again later.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { CustomerContactService } from "@shop/proto/user";
 * declare const transport: Transport;
 * const contacts = contactsOverConnect(createClient(CustomerContactService, transport), { timeoutMs: 3_000 });
 * ```
 */
export function contactsOverConnect(
  client: Client<typeof CustomerContactService>,
  options: { timeoutMs: number },
): Contacts {
  return {
    async contactOf(userId) {
      try {
        const contact = await client.getCustomerContact({ userId }, { timeoutMs: options.timeoutMs });
        return { email: contact.email, displayName: contact.displayName };
      } catch (error) {
        if (ConnectError.from(error).code === Code.NotFound) return undefined;
        throw dependencyUnavailable("the user service did not tell the customer's address", error);
      }
    },
  };
}
