/**
 * The chaos suite's load generator: a steady order load through the gateway, as customers make it.
 * A few workers, each a customer in a closed loop: place an order of one or two units of a product
 * (the scarce ones as often as the plentiful ones), paid with a card that succeeds, declines or
 * processes late; sometimes cancel a PAID order. A customer whose call fails (a 5xx, a network error, a
 * timeout) asks again with the same request id, as a shop's client does, a few times; every failure is
 * counted as an error the customer saw.
 *
 * @module
 */
import type { Stack } from "../e2e/stack.ts";
import { address, type Order, type Product, type Session } from "../e2e/rest.ts";

/** A Stripe test card of the load, with how often it is used (weights are relative). */
export interface Card {
  readonly paymentMethod: string;
  readonly weight: number;
}

/** The cards of the load: most succeed; some decline; some process late and then succeed or fail. */
export const loadCards: readonly Card[] = [
  { paymentMethod: "pm_card_visa", weight: 6 },
  { paymentMethod: "pm_card_chargeDeclined", weight: 2 },
  { paymentMethod: "pm_card_processing_succeeds", weight: 1 },
  { paymentMethod: "pm_card_processing_fails", weight: 1 },
];

/** Options of {@linkcode startLoad}. */
export interface LoadOptions {
  /** The customers: one worker each. */
  readonly customers: readonly Session[];
  /** The products orders are placed for. */
  readonly products: readonly Product[];
  /** The share of PAID orders their customer cancels at once (0.15). */
  readonly cancelShare?: number;
  /** A customer's pause between two orders, in ms (100). */
  readonly pauseMs?: number;
  /** How often a customer asks again after a failed call (5). */
  readonly retries?: number;
}

/** What the customers did and saw. */
export interface LoadTally {
  /** Orders placed (first attempts; retries are not counted again). */
  readonly placed: number;
  /** Orders whose placement never got an answer with the order, after every retry. */
  readonly unanswered: number;
  /** Cancels asked for. */
  readonly cancels: number;
  /** Every failed call a customer saw (retries included), by kind: `503 14`, `network`, `timeout`. */
  readonly errors: ReadonlyMap<string, number>;
}

/** A running load. */
export interface Load {
  /** How many orders were placed so far. */
  placed(): number;
  /** Stops every worker after its current order and tells what they did. */
  stop(): Promise<LoadTally>;
}

/** The longest a customer waits for one answer: above the gateway's 15 s route timeout. */
const callTimeoutMs = 20_000;

/**
 * Starts the load: one worker per customer, until {@linkcode Load.stop}.
 *
 * @example
 * ```ts ignore
 * const load = startLoad(stack, { customers, products });
 * await injectSomeFault();
 * const tally = await load.stop();
 * ```
 */
export function startLoad(stack: Pick<Stack, "client" | "url">, options: LoadOptions): Load {
  const client = stack.client();
  const cancelShare = options.cancelShare ?? 0.15;
  const pauseMs = options.pauseMs ?? 100;
  const retries = options.retries ?? 5;
  const errors = new Map<string, number>();
  let placed = 0;
  let unanswered = 0;
  let cancels = 0;
  let stopping = false;

  /** One call, asked again (same body) after a failure; the last answer's body, or undefined. */
  const call = async (
    token: string,
    method: string,
    path: string,
    body: unknown,
  ): Promise<Record<string, unknown> | undefined> => {
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await pause(Math.min(200 * 2 ** attempt, 3_000));
      let kind: string;
      try {
        const response = await fetch(`${stack.url}${path}`, {
          method,
          client,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(callTimeoutMs),
        });
        const text = await response.text();
        const parsed = parseJson(text);
        if (response.ok && parsed !== undefined) return parsed;
        kind = `${response.status} ${parsed?.code ?? "?"}`;
        // A refusal is the answer (a cancel of an order that cannot be cancelled any more): not retried.
        if (response.status >= 400 && response.status < 500 && response.status !== 429) {
          count(errors, kind);
          return undefined;
        }
      } catch (error) {
        kind = error instanceof DOMException && error.name === "TimeoutError" ? "timeout" : "network";
      }
      count(errors, kind);
    }
    return undefined;
  };

  const worker = async (customer: Session) => {
    while (!stopping) {
      const product = pick(options.products.map((p) => ({ item: p, weight: 1 })));
      const card = pick(loadCards.map((c) => ({ item: c, weight: c.weight })));
      placed++;
      const answer = await call(customer.accessToken, "POST", "/v1/orders", {
        requestId: crypto.randomUUID(),
        items: [{ productId: product.id, quantity: 1 + Math.floor(Math.random() * 2) }],
        shippingAddress: address,
        paymentMethod: card.paymentMethod,
      });
      const order = answer?.order as Order | undefined;
      if (order === undefined) unanswered++;
      if (order?.status === "ORDER_STATUS_PAID" && Math.random() < cancelShare) {
        cancels++;
        await call(customer.accessToken, "POST", `/v1/orders/${order.id}:cancel`, {
          reason: "changed my mind",
        });
      }
      await pause(pauseMs);
    }
  };

  const workers = options.customers.map(worker);
  return {
    placed: () => placed,
    stop: async () => {
      stopping = true;
      await Promise.all(workers);
      return { placed, unanswered, cancels, errors };
    },
  };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? parsed as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function pick<T>(choices: ReadonlyArray<{ item: T; weight: number }>): T {
  const total = choices.reduce((sum, choice) => sum + choice.weight, 0);
  let at = Math.random() * total;
  for (const choice of choices) {
    at -= choice.weight;
    if (at < 0) return choice.item;
  }
  const last = choices.at(-1);
  if (last === undefined) throw new Error("nothing to pick from");
  return last.item;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
