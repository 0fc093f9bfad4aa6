/**
 * The Stripe adapter: the domain's {@linkcode PaymentGateway} and {@linkcode WebhookVerifier} over the
 * official `stripe` SDK. The same code talks to real Stripe and to the test-mode simulator; only the base
 * URL and the key differ.
 *
 * @module
 */
import Stripe from "stripe";
import { serviceLogger } from "@shop/platform/log";
import { tracedFetch } from "@shop/platform/tracing";
import {
  type CallOptions,
  type ChargeOutcome,
  type ChargeRequest,
  type GatewayRefund,
  GatewayRejectedError,
  GatewayUnavailableError,
  InvalidSignatureError,
  type PaymentEvent,
  type PaymentGateway,
  type RefundRequest,
  type WebhookVerifier,
} from "../domain/ports.ts";

/** How to reach Stripe. */
export interface StripeConnection {
  /** A secret key, `sk_live_...` or `sk_test_...`. */
  apiKey: string;
  /** `https://api.stripe.com`, or the simulator's URL in dev and tests. */
  baseUrl: string;
}

/**
 * A Stripe SDK client for a base URL. The SDK's own retries are off: the domain retries within the
 * call's deadline with the same Idempotency-Key, and needs to see every failure to do so.
 *
 * @example
 * ```ts
 * const stripe = createStripeClient({ apiKey: "sk_test_123", baseUrl: "http://127.0.0.1:12112" });
 * ```
 */
export function createStripeClient(connection: StripeConnection): Stripe {
  const url = new URL(connection.baseUrl);
  const protocol = url.protocol === "http:" ? "http" : "https";
  return new Stripe(connection.apiKey, {
    host: url.hostname,
    port: url.port === "" ? (protocol === "https" ? 443 : 80) : Number(url.port),
    protocol,
    maxNetworkRetries: 0,
    // Each request to Stripe is a client span of the charge that made it, its context in `traceparent`.
    httpClient: Stripe.createFetchHttpClient(tracedFetch("stripe")),
    telemetry: false,
    appInfo: { name: "shop-payment" },
  });
}

const log = serviceLogger("stripe");

/**
 * Sorts a Stripe failure into what the domain can act on: retryable (no answer, 5xx, 409 "key in use",
 * 429, and 401/403, which are the operator's problem, not the payment's) or a refusal for good.
 */
function gatewayError(error: unknown): Error {
  if (!(error instanceof Stripe.errors.StripeError)) {
    return error instanceof Error ? error : new Error(String(error));
  }
  const status = error.statusCode ?? 0;
  if (
    error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeAPIError ||
    error instanceof Stripe.errors.StripeRateLimitError ||
    error instanceof Stripe.errors.StripeAuthenticationError ||
    error instanceof Stripe.errors.StripePermissionError || status >= 500 || status === 409 ||
    status === 429 ||
    status === 0
  ) {
    const credentials = error instanceof Stripe.errors.StripeAuthenticationError ||
      error instanceof Stripe.errors.StripePermissionError;
    if (credentials) log.error("Stripe refused our credentials: {message}", { message: error.message });
    else {log.warning("A Stripe call failed and may be retried: {status} {message}", {
        status,
        message: error.message,
      });}
    return new GatewayUnavailableError(`Stripe is unavailable: ${error.message}`, {
      cause: error,
      retryable: !credentials,
    });
  }
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    return new GatewayRejectedError(error.message, { code: "idempotency_error", cause: error });
  }
  return new GatewayRejectedError(error.message, {
    code: error.code ?? error.type,
    ...(error.param ? { param: error.param } : {}),
    cause: error,
  });
}

/** What a PaymentIntent's status says about the charge. */
function outcomeOf(intent: Stripe.PaymentIntent): ChargeOutcome {
  switch (intent.status) {
    case "succeeded":
      return { kind: "succeeded", paymentIntentId: intent.id };
    case "requires_action":
      return { kind: "requires_action", paymentIntentId: intent.id };
    case "requires_payment_method": {
      const failure = intent.last_payment_error;
      return {
        kind: "declined",
        paymentIntentId: intent.id,
        declineCode: failure?.decline_code || failure?.code || "card_declined",
        message: failure?.message ?? "Your card was declined.",
      };
    }
    case "canceled":
      return {
        kind: "declined",
        paymentIntentId: intent.id,
        declineCode: "canceled",
        message: "The payment was cancelled.",
      };
    default:
      return { kind: "processing", paymentIntentId: intent.id };
  }
}

function toGatewayRefund(refund: Stripe.Refund): GatewayRefund {
  const status = refund.status;
  return {
    stripeRefundId: refund.id,
    refundId: refund.metadata?.refund_id,
    amountMinor: BigInt(refund.amount),
    status:
      status === "succeeded" || status === "failed" || status === "canceled" || status === "requires_action"
        ? status
        : "pending",
    failureReason: refund.failure_reason ?? "",
  };
}

/**
 * The payment gateway over the Stripe SDK.
 *
 * @example
 * ```ts
 * const gateway = new StripePaymentGateway(createStripeClient({ apiKey: "sk_test_123", baseUrl: "http://127.0.0.1:12112" }));
 * ```
 */
export class StripePaymentGateway implements PaymentGateway {
  #stripe: Stripe;

  /** Uses a client from {@linkcode createStripeClient}. */
  constructor(stripe: Stripe) {
    this.#stripe = stripe;
  }

  async charge(request: ChargeRequest, options: CallOptions): Promise<ChargeOutcome> {
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.#stripe.paymentIntents.create({
        // The SDK takes numbers; amounts are at most 10^11 minor units, exact as a double.
        amount: Number(request.amount.amountMinor),
        currency: request.amount.currencyCode.toLowerCase(),
        payment_method: request.paymentMethod,
        // Confirmed server-side with no return URL: only methods that never redirect may be used.
        automatic_payment_methods: { enabled: true, allow_redirects: "never" },
        confirm: true,
        metadata: request.metadata,
      }, {
        idempotencyKey: options.idempotencyKey,
        timeout: Math.ceil(options.timeoutMs),
        maxNetworkRetries: 0,
      });
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) {
        const raw = error.raw as { payment_intent?: { id?: string } };
        return {
          kind: "declined",
          paymentIntentId: raw.payment_intent?.id ?? error.payment_intent?.id,
          declineCode: error.decline_code || error.code || "card_declined",
          message: error.message,
        };
      }
      throw gatewayError(error);
    }
    return outcomeOf(intent);
  }

  async retrieveCharge(paymentIntentId: string, options: { timeoutMs: number }): Promise<ChargeOutcome> {
    try {
      const intent = await this.#stripe.paymentIntents.retrieve(paymentIntentId, {}, {
        timeout: Math.ceil(options.timeoutMs),
        maxNetworkRetries: 0,
      });
      return outcomeOf(intent);
    } catch (error) {
      throw gatewayError(error);
    }
  }

  async refund(request: RefundRequest, options: CallOptions): Promise<GatewayRefund> {
    try {
      const refund = await this.#stripe.refunds.create({
        payment_intent: request.paymentIntentId,
        amount: Number(request.amountMinor),
        metadata: request.metadata,
      }, {
        idempotencyKey: options.idempotencyKey,
        timeout: Math.ceil(options.timeoutMs),
        maxNetworkRetries: 0,
      });
      return toGatewayRefund(refund);
    } catch (error) {
      throw gatewayError(error);
    }
  }

  async listRefunds(paymentIntentId: string, options: { timeoutMs: number }): Promise<GatewayRefund[]> {
    try {
      const refunds: GatewayRefund[] = [];
      for await (
        const refund of this.#stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 }, {
          timeout: Math.ceil(options.timeoutMs),
          maxNetworkRetries: 0,
        })
      ) {
        refunds.push(toGatewayRefund(refund));
      }
      return refunds;
    } catch (error) {
      throw gatewayError(error);
    }
  }
}

/**
 * Verifies Stripe webhooks with the endpoint secret (`stripe.webhooks.constructEventAsync`, over the raw
 * body bytes) and reduces each event to what the ledger needs.
 *
 * @example
 * ```ts
 * const stripe = createStripeClient({ apiKey: "sk_test_123", baseUrl: "https://api.stripe.com" });
 * const verifier = new StripeWebhookVerifier(stripe, "whsec_...");
 * ```
 */
export class StripeWebhookVerifier implements WebhookVerifier {
  #stripe: Stripe;
  #secret: string;

  /** Verifies with `secret`, the endpoint's signing secret (`whsec_...`). */
  constructor(stripe: Stripe, secret: string) {
    this.#stripe = stripe;
    this.#secret = secret;
  }

  async verify(rawBody: Uint8Array, signatureHeader: string): Promise<PaymentEvent> {
    let event: Stripe.Event;
    try {
      event = await this.#stripe.webhooks.constructEventAsync(rawBody, signatureHeader, this.#secret);
    } catch (error) {
      throw new InvalidSignatureError("the Stripe-Signature does not verify", { cause: error });
    }
    switch (event.type) {
      case "payment_intent.succeeded":
        return {
          id: event.id,
          type: event.type,
          paymentIntentId: event.data.object.id,
          paymentId: event.data.object.metadata?.payment_id,
        };
      case "payment_intent.payment_failed": {
        const intent = event.data.object;
        const failure = intent.last_payment_error;
        return {
          id: event.id,
          type: event.type,
          paymentIntentId: intent.id,
          paymentId: intent.metadata?.payment_id,
          declineCode: failure?.decline_code || failure?.code || "card_declined",
          failureReason: failure?.message ?? "The payment failed.",
        };
      }
      case "payment_intent.canceled": {
        const intent = event.data.object;
        return {
          id: event.id,
          type: event.type,
          paymentIntentId: intent.id,
          paymentId: intent.metadata?.payment_id,
          declineCode: "canceled",
          failureReason: `The payment was cancelled${
            intent.cancellation_reason ? ` (${intent.cancellation_reason})` : ""
          }.`,
        };
      }
      case "charge.refunded": {
        const intent = event.data.object.payment_intent;
        const paymentIntentId = typeof intent === "string" ? intent : intent?.id;
        if (paymentIntentId) return { id: event.id, type: event.type, paymentIntentId };
        return { id: event.id, type: "ignored", stripeType: event.type };
      }
      default:
        return { id: event.id, type: "ignored", stripeType: event.type };
    }
  }
}
