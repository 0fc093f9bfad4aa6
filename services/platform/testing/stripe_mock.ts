/**
 * stripe-mock, Stripe's official API mock, for tests.
 *
 * @module
 */
import { sharedServerUrl } from "./test_servers.ts";

/** The shared stripe-mock of a test run, in the shape the `stripe` SDK's options take. */
export interface StripeMockForTests {
  /** Its base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The host, for `new Stripe(key, { host, port, protocol })`. */
  readonly host: string;
  /** The port. */
  readonly port: number;
  /** `http` or `https`. */
  readonly protocol: "http" | "https";
}

/**
 * The shared stripe-mock of the test run: `SHOP_TEST_STRIPE_URL` when set, else one this process starts
 * on a free port the first time it is asked for. stripe-mock keeps no state, so suites share it as it is:
 * there is nothing to isolate. It accepts any `sk_test_...` key.
 *
 * @example Create a PaymentIntent
 * ```ts ignore
 * import Stripe from "stripe";
 * import { stripeMockForTests } from "@shop/platform/testing";
 *
 * const { host, port, protocol } = await stripeMockForTests();
 * const stripe = new Stripe("sk_test_123", { host, port, protocol });
 * await stripe.paymentIntents.create({ amount: 1999, currency: "usd" });
 * ```
 */
export async function stripeMockForTests(): Promise<StripeMockForTests> {
  const url = await sharedServerUrl("stripe");
  const parsed = new URL(url);
  const protocol = parsed.protocol === "https:" ? "https" : "http";
  const port = parsed.port === "" ? (protocol === "https" ? 443 : 80) : Number(parsed.port);
  return { url: url.replace(/\/+$/, ""), host: parsed.hostname, port, protocol };
}
