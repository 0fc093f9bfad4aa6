/**
 * What the Stripe simulator of a stack has seen: PaymentIntents, refunds and webhook deliveries, read from
 * its `GET /_simulator/state`. The charge count per order is the ground truth for "never charged twice"
 * and "nothing charged", independent of the payment service's own ledger.
 *
 * @module
 */
import type { Stack } from "./stack.ts";

/** A PaymentIntent as the simulator keeps it (only the fields the suites read). */
export interface SimulatedIntent {
  id: string;
  status: string;
  amount: number;
  metadata?: Record<string, string>;
}

/** A webhook event the simulator sent, with the status the gateway answered (0 when unreachable). */
export interface SimulatedEvent {
  id: string;
  type: string;
  payload: string;
  status: number;
}

/** The simulator's state. */
export interface SimulatorState {
  paymentIntents: SimulatedIntent[];
  refunds: Array<{ id: string; amount: number; payment_intent?: string; status?: string }>;
  events: SimulatedEvent[];
}

/**
 * Reads the simulator's state.
 *
 * @example
 * ```ts ignore
 * const { paymentIntents } = await simulatorState(stack);
 * ```
 */
export async function simulatorState(stack: Stack): Promise<SimulatorState> {
  const response = await fetch(`${stack.stripeSimulatorUrl}/_simulator/state`);
  if (!response.ok) throw new Error(`the simulator's state: ${response.status} ${await response.text()}`);
  return await response.json() as SimulatorState;
}

/**
 * The PaymentIntents made for an order (found by the `order_id` the payment service puts in the metadata).
 *
 * @example
 * ```ts ignore
 * const charged = (await intentsOf(stack, order.id)).filter((i) => i.status === "succeeded");
 * ```
 */
export async function intentsOf(stack: Stack, orderId: string): Promise<SimulatedIntent[]> {
  return (await simulatorState(stack)).paymentIntents.filter((intent) =>
    intent.metadata?.order_id === orderId
  );
}
