import { DomainError } from "@shop/platform/errors";
import { serviceLogger } from "@shop/platform/log";
import type { HttpRoute } from "@shop/platform/server";
import type { Payments } from "../domain/payments.ts";
import { InvalidSignatureError, type WebhookVerifier } from "../domain/ports.ts";

/** Where Stripe posts its events (a plain HTTP route: the signature is over the raw body bytes). */
export const stripeWebhookPath = "/v1/webhooks/stripe";

const log = serviceLogger("webhook");

function reply(status: number, body: Record<string, unknown>): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/**
 * Receives Stripe's webhook events: verifies the `Stripe-Signature` over the raw body with the endpoint
 * secret (400 and nothing changed when it does not verify), then applies the event to the ledger once
 * (200 for an event seen before too, so Stripe stops resending it). A failure to apply answers 503, so
 * Stripe delivers the event again later.
 *
 * @example
 * ```ts
 * declare const payments: Payments;
 * declare const verifier: WebhookVerifier;
 * const route = stripeWebhookRoute(payments, verifier);
 * ```
 */
export function stripeWebhookRoute(
  payments: Payments,
  verifier: WebhookVerifier,
  options: { timeoutMs?: number } = {},
): HttpRoute {
  return {
    method: "POST",
    path: stripeWebhookPath,
    async handle(request) {
      const signature = request.headers.get("stripe-signature");
      if (!signature) {
        return reply(400, { code: 3, message: "the Stripe-Signature header is missing" });
      }
      const body = new Uint8Array(await request.arrayBuffer());
      let event;
      try {
        event = await verifier.verify(body, signature);
      } catch (error) {
        if (error instanceof InvalidSignatureError) {
          log.warning("Refused a webhook whose signature does not verify");
          return reply(400, { code: 3, message: "the Stripe-Signature does not verify" });
        }
        throw error;
      }
      try {
        const applied = await payments.applyEvent(event, {
          deadline: Date.now() + (options.timeoutMs ?? 10_000),
        });
        log.info("Stripe event {id} ({type}) {outcome}", {
          id: event.id,
          type: event.type,
          outcome: applied ? "applied" : "seen before; ignored",
        });
        return reply(200, { received: true });
      } catch (error) {
        log.error("Applying Stripe event {id} failed; Stripe will send it again: {error}", {
          id: event.id,
          error,
        });
        const message = error instanceof DomainError ? error.message : "the event could not be applied";
        return reply(503, { code: 14, message });
      }
    },
  };
}
