/**
 * DEV/TEST TOOL — a Stripe test-mode simulator. Never point production at it.
 *
 * stripe-mock (Stripe's official mock) validates every request against Stripe's OpenAPI spec but answers
 * with canned fixtures: it keeps no state, never declines, never replays an Idempotency-Key and sends no
 * webhooks. This simulator sits in front of it: each request goes to stripe-mock first (its 4xx answers
 * come back as they are), then the simulator answers the way Stripe's test mode does for what the payment
 * service uses — PaymentIntents (create, confirm, retrieve), refunds (create, retrieve, list), Stripe's
 * Idempotency-Key semantics — keeping state in memory, and sends signed webhook events. It can inject
 * faults (timeouts, 500s, and answers lost AFTER the action was performed).
 *
 * @module
 */
import { cardOutcome } from "./test_cards.ts";

/** The faults the simulator can inject into the next matching requests. */
export type FaultMode =
  /** The request is never performed; the answer is held until the client gives up. */
  | "timeout"
  /** The request is never performed; Stripe answers 500 (with `Stripe-Should-Retry: true`). */
  | "error_500"
  /** The request IS performed (and its answer kept for the Idempotency-Key), but the answer never comes. */
  | "timeout_after_action"
  /** The request IS performed (answer kept for the key), but a 500 comes back instead (a lost answer). */
  | "error_500_after_action"
  /** The request is performed as usual, after a pause of `delayMs`: a slow Stripe. */
  | "delay";

/** Faults for the next `count` requests whose path starts with `pathPrefix` (every path unless set). */
export interface FaultPlan {
  mode: FaultMode;
  count: number;
  pathPrefix?: string;
  /** The pause of a `delay` fault, in ms (2000 unless set). */
  delayMs?: number;
}

/** Where and how the simulator sends webhook events. */
export interface WebhookTarget {
  /** The endpoint, for example `https://127.0.0.1:50054/v1/webhooks/stripe`. */
  url: string;
  /** The endpoint secret (`whsec_...`) the `Stripe-Signature` HMAC is made with. */
  secret: string;
  /** An HTTP client for the endpoint (with a client certificate when the endpoint wants mTLS). */
  client?: Deno.HttpClient;
}

/** Options of {@linkcode StripeSimulator}. */
export interface StripeSimulatorOptions {
  /** stripe-mock's base URL, for example `http://127.0.0.1:12111`. */
  upstream: string;
  /** Where to send webhook events; none are sent unless set. */
  webhook?: WebhookTarget;
  /** How long a `timeout` fault holds an answer when the client does not hang up first (30 s unless set). */
  holdMs?: number;
  /**
   * How long a `processing` payment (`pm_card_processing_succeeds`, `pm_card_processing_fails`) takes to
   * settle, in ms (3000 unless set); its outcome is then sent as a webhook event.
   */
  processingDelayMs?: number;
}

/** One webhook event the simulator sent (or tried to), with what it sent, for tests to replay. */
export interface SentEvent {
  id: string;
  type: string;
  /** The exact body bytes, as text. */
  payload: string;
  /** The `Stripe-Signature` header sent with it. */
  signature: string;
  /** The endpoint's last HTTP status, or 0 when it could not be reached. */
  status: number;
}

type Json = Record<string, unknown>;

interface Answer {
  status: number;
  body: Json;
}

interface IdempotencyRecord {
  fingerprint: string;
  answer: Answer | undefined;
}

interface ChargeRecord {
  id: string;
  paymentIntentId: string;
  amount: number;
  amountRefunded: number;
  currency: string;
}

/** Parsed form parameters: `metadata[order_id]=x` becomes `{ metadata: { order_id: "x" } }`. */
type Params = Record<string, string | Record<string, string> | string[]>;

function parseForm(body: string): Params {
  const params: Params = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const nested = /^(\w+)\[(\w*)\]$/.exec(key);
    if (!nested?.[1]) {
      params[key] = value;
      continue;
    }
    const [, name, inner] = nested;
    if (inner === "" || /^\d+$/.test(inner ?? "")) {
      const list = params[name];
      params[name] = [...(Array.isArray(list) ? list : []), value];
    } else {
      const map = params[name];
      params[name] = { ...(typeof map === "object" && !Array.isArray(map) ? map : {}), [inner ?? ""]: value };
    }
  }
  return params;
}

function text(params: Params, name: string): string | undefined {
  const value = params[name];
  return typeof value === "string" ? value : undefined;
}

function record(params: Params, name: string): Record<string, string> {
  const value = params[name];
  return typeof value === "object" && !Array.isArray(value) ? { ...value } : {};
}

function randomId(prefix: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `${prefix}_sim${[...bytes].map((b) => alphabet[b % alphabet.length]).join("")}`;
}

function stripeError(status: number, error: Json): Answer {
  return { status, body: { error: { ...error, request_log_url: "" } } };
}

function missing(kind: string, id: string, param = "id"): Answer {
  return stripeError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    param,
    message: `No such ${kind}: '${id}'`,
  });
}

/**
 * Stripe amounts are JSON integers in the smallest currency unit; the simulator keeps them as numbers
 * because that is what Stripe's JSON carries (all below 2^53), and refuses anything but an integer.
 */
function amountOf(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The `Stripe-Signature` header Stripe sends with a webhook: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<payload>" keyed with the endpoint secret>`.
 *
 * @example
 * ```ts
 * const header = await stripeSignature('{"id":"evt_1"}', "whsec_test", 1_700_000_000);
 * ```
 */
export async function stripeSignature(payload: string, secret: string, timestamp: number): Promise<string> {
  return `t=${timestamp},v1=${await hmacHex(secret, `${timestamp}.${payload}`)}`;
}

/**
 * DEV/TEST TOOL: Stripe's test-mode behaviour in front of stripe-mock, as a fetch handler.
 *
 * @example
 * ```ts ignore
 * const simulator = new StripeSimulator({ upstream: "http://127.0.0.1:12111" });
 * const response = await simulator.handle(new Request("http://sim/v1/payment_intents/pi_1"));
 * await simulator.close();
 * ```
 */
export class StripeSimulator {
  #upstream: string;
  #webhook: WebhookTarget | undefined;
  #holdMs: number;
  #intents = new Map<string, Json>();
  #charges = new Map<string, ChargeRecord>();
  #refunds = new Map<string, Json>();
  #keys = new Map<string, IdempotencyRecord>();
  #faults: FaultPlan[] = [];
  #events: SentEvent[] = [];
  #deliveries = new Set<Promise<void>>();
  #holds = new Set<() => void>();
  #settlements = new Set<ReturnType<typeof setTimeout>>();
  #processingDelayMs: number;
  #closed = false;

  /** Creates a simulator with empty state. */
  constructor(options: StripeSimulatorOptions) {
    this.#upstream = options.upstream.replace(/\/+$/, "");
    this.#webhook = options.webhook;
    this.#holdMs = options.holdMs ?? 30_000;
    this.#processingDelayMs = options.processingDelayMs ?? 3_000;
  }

  /** Injects faults into the next matching requests (added after the faults already planned). */
  injectFaults(plan: FaultPlan): void {
    if (plan.count > 0) this.#faults.push({ ...plan });
  }

  /** Drops the faults not yet used: Stripe is healthy again. */
  clearFaults(): void {
    this.#faults = [];
  }

  /** Sends webhook events to `target` from now on (none when undefined). */
  setWebhook(target: WebhookTarget | undefined): void {
    this.#webhook = target;
  }

  /** Every PaymentIntent created, oldest first (copies). */
  paymentIntents(): Json[] {
    return [...this.#intents.values()].map((intent) => structuredClone(intent));
  }

  /** Every refund created, oldest first (copies). */
  refunds(): Json[] {
    return [...this.#refunds.values()].map((refund) => structuredClone(refund));
  }

  /** Every webhook event sent so far, oldest first. */
  sentEvents(): SentEvent[] {
    return this.#events.map((event) => ({ ...event }));
  }

  /** Waits until every webhook delivery started so far has finished (delivered or given up). */
  async deliveriesSettled(): Promise<void> {
    while (this.#deliveries.size > 0) await Promise.allSettled([...this.#deliveries]);
  }

  /** Releases held answers and waits for webhook deliveries; the simulator answers nothing after. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const release of this.#holds) release();
    for (const timer of this.#settlements) clearTimeout(timer);
    this.#settlements.clear();
    await this.deliveriesSettled();
  }

  /** Answers one request: `/_simulator/...` control calls, or the Stripe API. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/_simulator/")) return await this.#control(request, url);
    const body = request.method === "POST" ? await request.text() : "";
    const answer = await this.#stripe(request, url, body);
    const headers = new Headers({ "content-type": "application/json", "request-id": randomId("req") });
    for (const [name, value] of Object.entries(answer.headers ?? {})) headers.set(name, value);
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers });
  }

  async #control(request: Request, url: URL): Promise<Response> {
    const json = (value: unknown, status = 200) =>
      new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
    if (request.method === "POST" && url.pathname === "/_simulator/faults") {
      const plan = await request.json() as Partial<FaultPlan>;
      const modes: FaultMode[] = [
        "timeout",
        "error_500",
        "timeout_after_action",
        "error_500_after_action",
        "delay",
      ];
      const delayOk = plan.delayMs === undefined || (Number.isInteger(plan.delayMs) && plan.delayMs >= 0);
      if (!modes.includes(plan.mode as FaultMode) || !Number.isInteger(plan.count) || !delayOk) {
        return json(
          {
            error: `expected {"mode": ${
              modes.join("|")
            }, "count": N, "pathPrefix"?: "/v1/...", "delayMs"?: N}`,
          },
          400,
        );
      }
      this.injectFaults(plan as FaultPlan);
      return json({ planned: this.#faults });
    }
    if (request.method === "DELETE" && url.pathname === "/_simulator/faults") {
      this.clearFaults();
      return json({ planned: [] });
    }
    if (request.method === "GET" && url.pathname === "/_simulator/state") {
      return json({
        paymentIntents: this.paymentIntents(),
        refunds: this.refunds(),
        events: this.sentEvents(),
      });
    }
    return json({ error: "unknown simulator control path" }, 404);
  }

  async #stripe(
    request: Request,
    url: URL,
    body: string,
  ): Promise<Answer & { headers?: Record<string, string> }> {
    // A fault before the action is an outage: it hits replays of earlier keys too.
    const plan = this.#takeFault(url.pathname);
    const fault = plan?.mode;
    if (fault === "delay") await this.#wait(plan?.delayMs ?? 2_000);
    if (fault === "timeout") return await this.#hold();
    if (fault === "error_500") return this.#serverError();
    // Stripe scopes idempotency keys to the account, i.e. the API key.
    const key = request.method === "POST" ? request.headers.get("idempotency-key") : null;
    const scope = `${request.headers.get("authorization") ?? ""} ${key ?? ""}`;
    const fingerprint = `${request.method} ${url.pathname} ${
      [...new URLSearchParams(body)].sort().join("&")
    }`;
    if (key) {
      const earlier = this.#keys.get(scope);
      if (earlier && earlier.fingerprint !== fingerprint) {
        return stripeError(400, {
          type: "idempotency_error",
          message:
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      if (earlier && !earlier.answer) {
        return stripeError(409, {
          type: "invalid_request_error",
          code: "idempotency_key_in_use",
          message:
            "There is currently another in-progress request using this Idempotency Key (that probably means you submitted twice, and the other request is still going through). Please try again later.",
        });
      }
      if (earlier?.answer) {
        if (fault === "timeout_after_action") return await this.#hold();
        if (fault === "error_500_after_action") return this.#serverError();
        return {
          ...structuredClone(earlier.answer),
          headers: { "idempotent-replayed": "true", "idempotency-key": key },
        };
      }
    }
    // Held before stripe-mock is asked, so a concurrent request with the same key sees it in progress.
    if (key) this.#keys.set(scope, { fingerprint, answer: undefined });
    let answer: Answer;
    try {
      const validated = await this.#validate(request, url, body);
      if (validated.status >= 400) {
        // Stripe keeps no result for a request that failed validation: the key may be used again.
        if (key) this.#keys.delete(scope);
        return validated;
      }
      answer = this.#perform(request.method, url, parseForm(body), validated.body, key);
    } catch (error) {
      if (key) this.#keys.delete(scope);
      throw error;
    }
    if (key) this.#keys.set(scope, { fingerprint, answer: structuredClone(answer) });
    if (fault === "timeout_after_action") return await this.#hold();
    if (fault === "error_500_after_action") return this.#serverError();
    return answer;
  }

  #takeFault(path: string): FaultPlan | undefined {
    const index = this.#faults.findIndex((plan) => path.startsWith(plan.pathPrefix ?? "/"));
    const plan = this.#faults[index];
    if (!plan) return undefined;
    plan.count -= 1;
    if (plan.count <= 0) this.#faults.splice(index, 1);
    return plan;
  }

  #serverError(): Answer & { headers: Record<string, string> } {
    return {
      ...stripeError(500, {
        type: "api_error",
        message: "An unknown error occurred (injected by the simulator)",
      }),
      headers: { "stripe-should-retry": "true" },
    };
  }

  /**
   * Holds the answer until the hold time passes or the simulator closes; the client has given up long
   * before. (Deno's `request.signal` would also fire on successful answers, so it is not used.)
   */
  async #hold(): Promise<Answer> {
    await this.#wait(this.#holdMs);
    return this.#serverError();
  }

  /** Waits `ms`, or until the simulator closes. */
  async #wait(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.#holds.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      this.#holds.add(release);
      if (this.#closed) release();
    });
  }

  /** Sends the request to stripe-mock: its 4xx (validation) answers are Stripe's answers. */
  async #validate(request: Request, url: URL, body: string): Promise<Answer> {
    const headers = new Headers();
    for (const name of ["authorization", "content-type", "stripe-version", "stripe-account"]) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    let response: Response;
    try {
      response = await fetch(`${this.#upstream}${url.pathname}${url.search}`, {
        method: request.method,
        headers,
        ...(request.method === "POST" ? { body } : {}),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      return stripeError(500, { type: "api_error", message: `stripe-mock unreachable: ${error}` });
    }
    const answer = await response.json().catch(() => ({})) as Json;
    return { status: response.status, body: answer };
  }

  #perform(method: string, url: URL, params: Params, fixture: Json, key: string | null): Answer {
    const path = url.pathname;
    let match: RegExpExecArray | null;
    if (method === "POST" && path === "/v1/payment_intents") return this.#createIntent(params, fixture, key);
    if (method === "POST" && (match = /^\/v1\/payment_intents\/([^/]+)\/confirm$/.exec(path))) {
      const intent = this.#intents.get(match[1] ?? "");
      if (!intent) return missing("payment_intent", match[1] ?? "");
      return this.#confirm(intent, text(params, "payment_method"), key);
    }
    if (method === "GET" && (match = /^\/v1\/payment_intents\/([^/]+)$/.exec(path))) {
      const intent = this.#intents.get(match[1] ?? "");
      return intent
        ? { status: 200, body: structuredClone(intent) }
        : missing("payment_intent", match[1] ?? "");
    }
    if (method === "POST" && path === "/v1/refunds") return this.#createRefund(params, fixture, key);
    if (method === "GET" && path === "/v1/refunds") {
      const intent = url.searchParams.get("payment_intent");
      const charge = url.searchParams.get("charge");
      const data = this.refunds().filter((refund) =>
        (intent === null || refund.payment_intent === intent) && (charge === null || refund.charge === charge)
      ).reverse();
      return { status: 200, body: { object: "list", data, has_more: false, url: "/v1/refunds" } };
    }
    if (method === "GET" && (match = /^\/v1\/refunds\/([^/]+)$/.exec(path))) {
      const refund = this.#refunds.get(match[1] ?? "");
      return refund ? { status: 200, body: structuredClone(refund) } : missing("refund", match[1] ?? "");
    }
    // Everything else is stripe-mock's own (stateless) answer.
    return { status: 200, body: fixture };
  }

  #createIntent(params: Params, fixture: Json, key: string | null): Answer {
    const amount = amountOf(text(params, "amount"));
    if (amount === undefined || amount < 1) {
      return stripeError(400, {
        type: "invalid_request_error",
        code: "parameter_invalid_integer",
        param: "amount",
        message: "Invalid integer",
      });
    }
    const id = randomId("pi");
    const paymentMethod = text(params, "payment_method") ?? null;
    const intent: Json = {
      ...fixture,
      id,
      object: "payment_intent",
      amount,
      amount_capturable: 0,
      amount_received: 0,
      currency: (text(params, "currency") ?? "usd").toLowerCase(),
      metadata: record(params, "metadata"),
      description: text(params, "description") ?? null,
      payment_method: paymentMethod,
      payment_method_types: Array.isArray(params.payment_method_types)
        ? params.payment_method_types
        : ["card"],
      status: paymentMethod ? "requires_confirmation" : "requires_payment_method",
      client_secret: `${id}_secret_${randomId("cs").slice(7)}`,
      created: Math.floor(Date.now() / 1000),
      canceled_at: null,
      cancellation_reason: null,
      last_payment_error: null,
      latest_charge: null,
      next_action: null,
      processing: null,
      livemode: false,
    };
    if (text(params, "confirm") !== "true") {
      this.#intents.set(id, intent);
      return { status: 200, body: structuredClone(intent) };
    }
    if (paymentMethod && cardOutcome(paymentMethod).kind === "unknown") {
      // Stripe refuses the whole call: no PaymentIntent is created.
      return this.#unknownPaymentMethod(paymentMethod);
    }
    this.#intents.set(id, intent);
    return this.#confirm(intent, undefined, key);
  }

  #unknownPaymentMethod(paymentMethod: string): Answer {
    return stripeError(400, {
      type: "invalid_request_error",
      code: "resource_missing",
      param: "payment_method",
      message: `No such PaymentMethod: '${paymentMethod}'`,
    });
  }

  #confirm(intent: Json, newPaymentMethod: string | undefined, key: string | null): Answer {
    if (newPaymentMethod) intent.payment_method = newPaymentMethod;
    const status = intent.status;
    if (status !== "requires_confirmation" && status !== "requires_payment_method") {
      return stripeError(400, {
        type: "invalid_request_error",
        code: "payment_intent_unexpected_state",
        message: `This PaymentIntent's status is ${status}; it cannot be confirmed.`,
        payment_intent: structuredClone(intent),
      });
    }
    const paymentMethod = typeof intent.payment_method === "string" ? intent.payment_method : "";
    if (!paymentMethod) {
      return stripeError(400, {
        type: "invalid_request_error",
        code: "payment_intent_unexpected_state",
        message: "You cannot confirm this PaymentIntent because it's missing a payment method.",
      });
    }
    const outcome = cardOutcome(paymentMethod);
    if (outcome.kind === "unknown") return this.#unknownPaymentMethod(paymentMethod);
    if (outcome.kind === "requires_action") {
      Object.assign(intent, {
        status: "requires_action",
        next_action: { type: "use_stripe_sdk", use_stripe_sdk: {} },
      });
      return { status: 200, body: structuredClone(intent) };
    }
    if (outcome.kind === "processing") {
      Object.assign(intent, { status: "processing", last_payment_error: null, next_action: null });
      const timer = setTimeout(() => {
        this.#settlements.delete(timer);
        this.#settle(intent, paymentMethod, outcome.settles, key);
      }, this.#processingDelayMs);
      this.#settlements.add(timer);
      return { status: 200, body: structuredClone(intent) };
    }
    return this.#settle(intent, paymentMethod, outcome.kind === "succeeds" ? "succeeds" : outcome, key);
  }

  /** The charge's outcome: at once for a card, or later for a payment that was processing. */
  #settle(
    intent: Json,
    paymentMethod: string,
    outcome: "succeeds" | "fails" | { code: string; declineCode: string; message: string },
    key: string | null,
  ): Answer {
    const amount = Number(intent.amount);
    const charge: ChargeRecord = {
      id: randomId("ch"),
      paymentIntentId: String(intent.id),
      amount,
      amountRefunded: 0,
      currency: String(intent.currency),
    };
    if (outcome !== "succeeds") {
      const decline = outcome === "fails"
        ? {
          code: "card_declined",
          declineCode: "generic_decline",
          message: "The payment failed while processing.",
        }
        : outcome;
      const error = {
        type: "card_error",
        code: decline.code,
        decline_code: decline.declineCode,
        message: decline.message,
        charge: charge.id,
        doc_url: `https://stripe.com/docs/error-codes/${decline.code.replaceAll("_", "-")}`,
        payment_method: { id: paymentMethod, object: "payment_method", type: "card" },
      };
      Object.assign(intent, {
        status: "requires_payment_method",
        latest_charge: charge.id,
        last_payment_error: error,
      });
      this.#emit("payment_intent.payment_failed", intent, key);
      return stripeError(402, { ...error, payment_intent: structuredClone(intent) });
    }
    this.#charges.set(charge.id, charge);
    Object.assign(intent, {
      status: "succeeded",
      amount_received: amount,
      latest_charge: charge.id,
      last_payment_error: null,
      next_action: null,
    });
    this.#emit("payment_intent.succeeded", intent, key);
    return { status: 200, body: structuredClone(intent) };
  }

  #createRefund(params: Params, fixture: Json, key: string | null): Answer {
    const intentId = text(params, "payment_intent");
    const chargeId = text(params, "charge");
    const charge = chargeId
      ? this.#charges.get(chargeId)
      : [...this.#charges.values()].find((c) => c.paymentIntentId === intentId);
    if (!charge) {
      if (intentId && this.#intents.has(intentId)) {
        return stripeError(400, {
          type: "invalid_request_error",
          code: "charge_not_refundable",
          message: `This PaymentIntent (${intentId}) does not have a successful charge to refund.`,
        });
      }
      return chargeId
        ? missing("charge", chargeId, "charge")
        : missing("payment_intent", intentId ?? "", "payment_intent");
    }
    const left = charge.amount - charge.amountRefunded;
    if (left === 0) {
      return stripeError(400, {
        type: "invalid_request_error",
        code: "charge_already_refunded",
        message: `Charge ${charge.id} has already been refunded.`,
      });
    }
    const requested = text(params, "amount");
    const amount = requested === undefined ? left : amountOf(requested);
    if (amount === undefined || amount < 1) {
      return stripeError(400, {
        type: "invalid_request_error",
        code: "parameter_invalid_integer",
        param: "amount",
        message: "Invalid integer",
      });
    }
    if (amount > left) {
      return stripeError(400, {
        type: "invalid_request_error",
        code: "amount_too_large",
        param: "amount",
        message: `Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`,
      });
    }
    charge.amountRefunded += amount;
    const refund: Json = {
      ...fixture,
      id: randomId("re"),
      object: "refund",
      amount,
      charge: charge.id,
      payment_intent: charge.paymentIntentId,
      currency: charge.currency,
      metadata: record(params, "metadata"),
      reason: text(params, "reason") ?? null,
      status: "succeeded",
      created: Math.floor(Date.now() / 1000),
    };
    this.#refunds.set(String(refund.id), refund);
    this.#emit("charge.refunded", {
      id: charge.id,
      object: "charge",
      amount: charge.amount,
      amount_captured: charge.amount,
      amount_refunded: charge.amountRefunded,
      currency: charge.currency,
      payment_intent: charge.paymentIntentId,
      paid: true,
      captured: true,
      refunded: charge.amountRefunded === charge.amount,
      status: "succeeded",
      livemode: false,
      created: Math.floor(Date.now() / 1000),
    }, key);
    return { status: 200, body: structuredClone(refund) };
  }

  #emit(type: string, object: Json, idempotencyKey: string | null): void {
    const webhook = this.#webhook;
    const event = {
      id: randomId("evt"),
      object: "event",
      api_version: "2026-10-28.endive",
      created: Math.floor(Date.now() / 1000),
      data: { object: structuredClone(object) },
      livemode: false,
      pending_webhooks: webhook ? 1 : 0,
      request: { id: randomId("req"), idempotency_key: idempotencyKey },
      type,
    };
    if (!webhook) return;
    const delivery = this.#deliver(webhook, event.id, type, JSON.stringify(event));
    this.#deliveries.add(delivery);
    void delivery.finally(() => this.#deliveries.delete(delivery));
  }

  /** Stripe retries failed deliveries for days; the simulator tries a few times, quickly. */
  async #deliver(webhook: WebhookTarget, id: string, type: string, payload: string): Promise<void> {
    const sent: SentEvent = { id, type, payload, signature: "", status: 0 };
    this.#events.push(sent);
    for (let attempt = 0; attempt < 4 && !this.#closed; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      sent.signature = await stripeSignature(payload, webhook.secret, Math.floor(Date.now() / 1000));
      try {
        const response = await fetch(webhook.url, {
          method: "POST",
          headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": sent.signature },
          body: payload,
          signal: AbortSignal.timeout(10_000),
          ...(webhook.client ? { client: webhook.client } : {}),
        });
        await response.body?.cancel();
        sent.status = response.status;
        if (response.ok) return;
      } catch {
        sent.status = 0;
      }
    }
  }
}

/** A simulator serving HTTP on 127.0.0.1. */
export interface RunningStripeSimulator extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** For `new Stripe(key, { host, port, protocol })`. */
  readonly host: string;
  readonly port: number;
  readonly protocol: "http";
  readonly simulator: StripeSimulator;
  close(): Promise<void>;
}

/**
 * DEV/TEST TOOL: starts the simulator in this process on `port` (0 picks a free one), for tests.
 *
 * @example
 * ```ts ignore
 * import { stripeMockForTests } from "@shop/platform/testing";
 * await using stripe = await startStripeSimulator({ upstream: (await stripeMockForTests()).url });
 * stripe.simulator.injectFaults({ mode: "timeout_after_action", count: 1 });
 * ```
 */
export async function startStripeSimulator(
  options: StripeSimulatorOptions & { port?: number; hostname?: string },
): Promise<RunningStripeSimulator> {
  const simulator = new StripeSimulator(options);
  const hostname = options.hostname ?? "127.0.0.1";
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve(
    { hostname, port: options.port ?? 0, onListen: ({ port }) => listening.resolve(port) },
    (request) => simulator.handle(request),
  );
  const port = await listening.promise;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await simulator.close();
      await server.shutdown();
    })();
  return {
    url: `http://${hostname}:${port}`,
    host: hostname,
    port,
    protocol: "http",
    simulator,
    close,
    [Symbol.asyncDispose]: close,
  };
}
