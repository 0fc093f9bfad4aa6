/**
 * The cart scenarios of `deno task bench` (issue 23), beside CreateOrder: AddItem under load (vegeta,
 * one cart per worker's customer), and checkout from a cart of three lines (bench/cart_load.ts: each
 * worker's customer adds three products, then checks out, in a loop).
 *
 * @module
 */
import { ok, type Rest, type Session, signUp } from "../e2e/rest.ts";
import type { RunningLoad, VegetaTarget } from "./load.ts";
import { type CheckoutLoadReport, startCheckoutLoad } from "./cart_load.ts";
import type { LoadSummary, ScenarioResult } from "./results.ts";
import { type MethodTime, timesBetween } from "./rpc_metrics.ts";

/** How main.ts runs and records one scenario (its `scenario()`), as the cart scenarios use it. */
export type RunScenario = (
  id: string,
  title: string,
  tool: ScenarioResult["tool"],
  conc: number,
  start: (durationS: number) => RunningLoad,
  options?: {
    warmUp?: boolean;
    extra?: () => Promise<Record<string, unknown>>;
    failures?: () => Record<string, number>;
  },
) => Promise<void>;

/** What the cart scenarios need from the bench's run. */
export interface CartBenchDeps {
  /** The gateway. */
  url: string;
  rest: Rest;
  caFile: string;
  workDir: string;
  /** The bench's products (a million units each): carts take from all of them, so none is hot. */
  productIds: string[];
  /** Workers, each with a customer and a cart of its own. */
  concurrency: number;
  wanted: (id: string) => boolean;
  scenario: RunScenario;
  /** vegeta at `conc` workers over a targets file (main.ts's `vegeta()`). */
  vegeta: (targetsFile: string, conc: number) => (durationS: number) => RunningLoad;
  writeTargets: (file: string, targets: Iterable<VegetaTarget>) => Promise<string>;
  /** Server time per RPC of the services so far (`<service>:<Service>/<Method>`), from their metrics. */
  serverTimes: () => Promise<Map<string, MethodTime>>;
}

/** The lines of each customer's cart in the AddItem scenario. */
const cartLines = 5;

async function clearCarts(rest: Rest, shoppers: readonly Session[]): Promise<void> {
  await Promise.all(shoppers.map(async (shopper) => {
    ok(await rest("DELETE", "/v1/cart", { token: shopper.accessToken }), "empty a bench cart");
  }));
}

/**
 * Runs the scenarios `cart_add` and `cart_checkout` (those `wanted`).
 *
 * @example
 * ```ts ignore
 * await runCartScenarios({ url: stack.url, rest, caFile, workDir, productIds, concurrency: 16, wanted,
 *   scenario, vegeta, writeTargets });
 * ```
 */
export async function runCartScenarios(deps: CartBenchDeps): Promise<void> {
  if (!deps.wanted("cart_add") && !deps.wanted("cart_checkout")) return;
  const shoppers = await Promise.all(
    Array.from({ length: deps.concurrency }, (_, i) => signUp(deps.rest, `bench-cart-${i}`)),
  );
  const products = deps.productIds;

  // AddItem: one unit at a time, round-robin over the customers, each filling a cart of five lines (a
  // reply shows the whole cart, every line re-read from the catalog, so a cart's size is part of the
  // cost). A line holds at most 100 units: 500 adds per customer before the cap, more than a run sends.
  if (deps.wanted("cart_add")) {
    await clearCarts(deps.rest, shoppers);
    const targets: VegetaTarget[] = [];
    for (let i = 0; i < shoppers.length * cartLines; i++) {
      const customer = i % shoppers.length;
      const line = Math.floor(i / shoppers.length);
      targets.push({
        method: "POST",
        url: `${deps.url}/v1/cart/items`,
        header: {
          "content-type": ["application/json"],
          authorization: [`Bearer ${shoppers[customer]?.accessToken}`],
        },
        body: JSON.stringify({ productId: products[(customer + line * 4) % products.length], quantity: 1 }),
      });
    }
    const file = await deps.writeTargets(`${deps.workDir}/cart-add.json`, targets);
    const before = await deps.serverTimes();
    await deps.scenario(
      "cart_add",
      "C1 AddItem to the cart, REST via Envoy + JWT",
      "vegeta",
      deps.concurrency,
      deps.vegeta(file, deps.concurrency),
      { extra: async () => ({ serverTimeMs: timesBetween(before, await deps.serverTimes()) }) },
    );
  }

  if (deps.wanted("cart_checkout")) {
    await clearCarts(deps.rest, shoppers);
    let report: CheckoutLoadReport | undefined;
    const before = await deps.serverTimes();
    await deps.scenario(
      "cart_checkout",
      "C2 Checkout of a 3-line cart (each loop: 3 AddItem, then Checkout), REST via Envoy + JWT",
      "deno",
      deps.concurrency,
      (durationS) => {
        const load = startCheckoutLoad({
          url: deps.url,
          caFile: deps.caFile,
          tokens: shoppers.map((shopper) => shopper.accessToken),
          productIds: products,
          durationS,
        }, deps.workDir);
        return {
          pid: load.pid,
          done: load.done.then((found): LoadSummary => {
            report = found;
            return found;
          }),
        };
      },
      {
        extra: async () => ({
          ordersByStatus: report?.ordersByStatus ?? {},
          addItemsInLoops: report?.addRequests ?? 0,
          addItemP50Ms: report?.addP50Ms ?? 0,
          addItemP99Ms: report?.addP99Ms ?? 0,
          serverTimeMs: timesBetween(before, await deps.serverTimes()),
        }),
      },
    );
  }
}
