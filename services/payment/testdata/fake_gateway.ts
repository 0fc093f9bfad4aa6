/**
 * A fake payment gateway for handler tests: Stripe's semantics (test cards, idempotency keys, refunds
 * bounded by the charge) in memory, with injectable failures.
 *
 * @module
 */
import {
  type CallOptions,
  type ChargeOutcome,
  type ChargeRequest,
  type GatewayRefund,
  GatewayRejectedError,
  GatewayUnavailableError,
  type PaymentEvent,
  type PaymentGateway,
  type RefundRequest,
} from "../domain/ports.ts";
import { cardOutcome } from "../stripe_simulator/test_cards.ts";

/** How the next call fails. */
export type FakeFault =
  /** Nothing happens; the call fails as a timeout would. */
  | "unavailable"
  /** The call takes effect, then fails as a lost answer would. */
  | "unavailable_after_action"
  /** Nothing happens; the call hangs for its whole timeout, then fails. */
  | "hang";

/** A PaymentIntent the fake holds. */
export interface FakeIntent {
  id: string;
  amountMinor: bigint;
  refundedMinor: bigint;
  status: "succeeded" | "requires_payment_method" | "requires_action" | "processing";
  /** For a processing intent: how it ends when {@linkcode FakePaymentGateway.settleProcessing} is called. */
  settles?: "succeeds" | "fails";
  metadata: Record<string, string>;
}

interface Kept {
  fingerprint: string;
  result: { ok: unknown } | { error: unknown };
}

/**
 * The fake.
 *
 * @example
 * ```ts
 * const gateway = new FakePaymentGateway();
 * gateway.failNext("unavailable_after_action");
 * ```
 */
export class FakePaymentGateway implements PaymentGateway {
  /** Every PaymentIntent created, by id. */
  readonly intents = new Map<string, FakeIntent>();
  /** Every refund created. */
  readonly refunds: GatewayRefund[] = [];
  #keys = new Map<string, Kept>();
  #intentOfRefund = new Map<string, string>();
  #faults: FakeFault[] = [];

  /** Makes the next calls fail, in order. */
  failNext(...faults: FakeFault[]): void {
    this.#faults.push(...faults);
  }

  /** Stripe is back: the faults not yet used are dropped. */
  clearFaults(): void {
    this.#faults = [];
  }

  charge(request: ChargeRequest, options: CallOptions): Promise<ChargeOutcome> {
    return this.#idempotent(
      options,
      JSON.stringify({ ...request, amount: String(request.amount.amountMinor) }),
      () => {
        const outcome = cardOutcome(request.paymentMethod);
        if (outcome.kind === "unknown") {
          throw new GatewayRejectedError(`No such PaymentMethod: '${request.paymentMethod}'`, {
            code: "resource_missing",
            param: "payment_method",
          });
        }
        const intent: FakeIntent = {
          id: `pi_fake_${this.intents.size + 1}`,
          amountMinor: request.amount.amountMinor,
          refundedMinor: 0n,
          status: outcome.kind === "succeeds"
            ? "succeeded"
            : outcome.kind === "requires_action"
            ? "requires_action"
            : outcome.kind === "processing"
            ? "processing"
            : "requires_payment_method",
          ...(outcome.kind === "processing" ? { settles: outcome.settles } : {}),
          metadata: { ...request.metadata },
        };
        this.intents.set(intent.id, intent);
        if (outcome.kind === "processing") return { kind: "processing", paymentIntentId: intent.id };
        if (outcome.kind === "declined") {
          return {
            kind: "declined",
            paymentIntentId: intent.id,
            declineCode: outcome.declineCode,
            message: outcome.message,
          } satisfies ChargeOutcome;
        }
        if (outcome.kind === "requires_action") {
          return { kind: "requires_action", paymentIntentId: intent.id };
        }
        return { kind: "succeeded", paymentIntentId: intent.id } satisfies ChargeOutcome;
      },
    );
  }

  refund(request: RefundRequest, options: CallOptions): Promise<GatewayRefund> {
    return this.#idempotent(
      options,
      JSON.stringify({ ...request, amountMinor: String(request.amountMinor) }),
      () => {
        const intent = this.intents.get(request.paymentIntentId);
        if (!intent || intent.status !== "succeeded") {
          throw new GatewayRejectedError("no successful charge to refund", { code: "charge_not_refundable" });
        }
        if (request.amountMinor > intent.amountMinor - intent.refundedMinor) {
          throw new GatewayRejectedError("Refund amount is greater than unrefunded amount on charge", {
            code: "amount_too_large",
          });
        }
        intent.refundedMinor += request.amountMinor;
        const refund: GatewayRefund = {
          stripeRefundId: `re_fake_${this.refunds.length + 1}`,
          refundId: request.metadata.refund_id,
          amountMinor: request.amountMinor,
          status: "succeeded",
          failureReason: "",
        };
        this.refunds.push(refund);
        this.#intentOfRefund.set(refund.stripeRefundId, intent.id);
        return { ...refund };
      },
    );
  }

  /**
   * Ends every processing PaymentIntent as its card says (what Stripe does a while after the call) and
   * returns the webhook events Stripe would send about them; a failure is sent as `failAs`.
   */
  settleProcessing(
    failAs: "payment_intent.payment_failed" | "payment_intent.canceled" = "payment_intent.payment_failed",
  ): PaymentEvent[] {
    const settled = [...this.intents.values()].filter((intent) => intent.status === "processing");
    return settled.map((intent): PaymentEvent => {
      const common = {
        id: `evt_${intent.id}`,
        paymentIntentId: intent.id,
        paymentId: intent.metadata.payment_id,
      };
      if (intent.settles !== "fails") {
        intent.status = "succeeded";
        return { ...common, type: "payment_intent.succeeded" };
      }
      intent.status = "requires_payment_method";
      return {
        ...common,
        type: failAs,
        declineCode: "generic_decline",
        failureReason: "The payment failed while processing.",
      };
    });
  }

  retrieveCharge(paymentIntentId: string): Promise<ChargeOutcome> {
    const fault = this.#faults.shift();
    if (fault) return Promise.reject(new GatewayUnavailableError("injected: no answer"));
    const intent = this.intents.get(paymentIntentId);
    if (!intent) {
      return Promise.reject(
        new GatewayRejectedError(`No such payment_intent: '${paymentIntentId}'`, {
          code: "resource_missing",
        }),
      );
    }
    switch (intent.status) {
      case "succeeded":
        return Promise.resolve({ kind: "succeeded", paymentIntentId });
      case "processing":
        return Promise.resolve({ kind: "processing", paymentIntentId });
      case "requires_action":
        return Promise.resolve({ kind: "requires_action", paymentIntentId });
      case "requires_payment_method":
        return Promise.resolve({
          kind: "declined",
          paymentIntentId,
          declineCode: "generic_decline",
          message: "The payment failed while processing.",
        });
    }
  }

  listRefunds(paymentIntentId: string): Promise<GatewayRefund[]> {
    return Promise.resolve(
      this.refunds.filter((r) => this.#intentOfRefund.get(r.stripeRefundId) === paymentIntentId).map((r) => ({
        ...r,
      })),
    );
  }

  async #idempotent<T>(options: CallOptions, fingerprint: string, act: () => T): Promise<T> {
    const fault = this.#faults.shift();
    if (fault === "unavailable") throw new GatewayUnavailableError("injected: no answer");
    if (fault === "hang") {
      await new Promise((resolve) => setTimeout(resolve, options.timeoutMs));
      throw new GatewayUnavailableError("injected: timed out");
    }
    let kept = this.#keys.get(options.idempotencyKey);
    if (kept && kept.fingerprint !== fingerprint) {
      throw new GatewayRejectedError(
        "Keys for idempotent requests can only be used with the same parameters",
        {
          code: "idempotency_error",
        },
      );
    }
    if (!kept) {
      let result: Kept["result"];
      try {
        result = { ok: act() };
      } catch (error) {
        result = { error };
      }
      kept = { fingerprint, result };
      this.#keys.set(options.idempotencyKey, kept);
    }
    if (fault === "unavailable_after_action") throw new GatewayUnavailableError("injected: answer lost");
    if ("error" in kept.result) throw kept.result.error;
    return structuredClone(kept.result.ok) as T;
  }
}
