// deno-lint-ignore-file no-console -- a load tool: its one line of JSON on stdout is its interface
/**
 * The load of the cart checkout scenario, a load tool of its own (run as a child process, so the
 * bench samples its CPU apart from the stack's): each worker is one customer with one cart, and loops
 * "add three products to the cart (three `POST /v1/cart/items`), then `POST /v1/cart:checkout`" through
 * the gateway until the time is up. vegeta cannot do this: a checkout needs a filled cart of its own
 * customer, so the four calls of one loop must go in order, one customer per worker.
 *
 * `deno run -A bench/cart_load.ts OPTIONS.json` prints one JSON line: the checkouts as a
 * {@linkcode LoadSummary} (latency of the checkout call alone; a checkout counts as a success only when
 * its order came back PAID), plus the adds' own latencies and the orders by status.
 *
 * @module
 */
import { address } from "../e2e/rest.ts";
import { type LoadSummary, round } from "./results.ts";

/** What {@linkcode runCheckoutLoops} needs. */
export interface CheckoutLoadOptions {
  /** The gateway, `https://127.0.0.1:PORT`. */
  url: string;
  /** The dev CA that signed the gateway's certificate (PEM file). */
  caFile: string;
  /** One access token per worker: one customer, one cart each. */
  tokens: string[];
  /** The products to put in carts; each loop takes three of them. */
  productIds: string[];
  durationS: number;
}

/** What the loops measured: the checkouts as a summary, and the adds and statuses beside it. */
export interface CheckoutLoadReport extends LoadSummary {
  addRequests: number;
  addP50Ms: number;
  addP99Ms: number;
  ordersByStatus: Record<string, number>;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * Runs one loop per token until `durationS` is over; the loop in flight when time is up finishes and
 * counts.
 *
 * @example
 * ```ts ignore
 * const report = await runCheckoutLoops({ url, caFile, tokens, productIds, durationS: 10 });
 * ```
 */
export async function runCheckoutLoops(options: CheckoutLoadOptions): Promise<CheckoutLoadReport> {
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(options.caFile)] });
  const checkoutMs: number[] = [];
  const addMs: number[] = [];
  const errorKinds: Record<string, number> = {};
  const ordersByStatus: Record<string, number> = {};
  let errors = 0;
  let paid = 0;
  const fail = (kind: string) => {
    errors++;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };
  const post = async (token: string, path: string, body: unknown) => {
    const started = performance.now();
    const response = await fetch(`${options.url}${path}`, {
      method: "POST",
      client,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, text, ms: performance.now() - started };
  };
  const started = performance.now();
  const end = started + options.durationS * 1000;
  const products = options.productIds;
  await Promise.all(options.tokens.map(async (token, worker) => {
    for (let loop = 0; performance.now() < end; loop++) {
      try {
        for (let k = 0; k < 3; k++) {
          const productId = products[(worker * 3 + loop * 7 + k * 5) % products.length] ?? "";
          const added = await post(token, "/v1/cart/items", { productId, quantity: 1 });
          addMs.push(added.ms);
          if (added.status !== 200) fail(`add: HTTP ${added.status}`);
        }
        const checkout = await post(token, "/v1/cart:checkout", {
          requestId: crypto.randomUUID(),
          shippingAddress: address,
          paymentMethod: "pm_card_visa",
        });
        checkoutMs.push(checkout.ms);
        if (checkout.status !== 200) {
          fail(`checkout: HTTP ${checkout.status}`);
          continue;
        }
        const status = (JSON.parse(checkout.text) as { order?: { status?: string } }).order?.status ?? "none";
        ordersByStatus[status] = (ordersByStatus[status] ?? 0) + 1;
        if (status === "ORDER_STATUS_PAID") paid++;
        else fail(status);
      } catch (error) {
        fail(error instanceof Error ? error.message.slice(0, 120) : String(error));
      }
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  client.close();
  checkoutMs.sort((a, b) => a - b);
  addMs.sort((a, b) => a - b);
  return {
    requests: checkoutMs.length,
    throughput: round(paid / seconds, 2),
    p50Ms: round(percentile(checkoutMs, 50), 2),
    p99Ms: round(percentile(checkoutMs, 99), 2),
    errors,
    errorKinds,
    addRequests: addMs.length,
    addP50Ms: round(percentile(addMs, 50), 2),
    addP99Ms: round(percentile(addMs, 99), 2),
    ordersByStatus,
  };
}

/**
 * Starts the checkout loops as a child process (its pid is what the bench samples as the load tool).
 *
 * @example
 * ```ts ignore
 * const load = startCheckoutLoad({ url, caFile, tokens, productIds, durationS: 10 }, workDir);
 * const report = await load.done;
 * ```
 */
export function startCheckoutLoad(
  options: CheckoutLoadOptions,
  workDir: string,
): { pid: number; done: Promise<CheckoutLoadReport> } {
  const file = `${workDir}/cart-load-${crypto.randomUUID().slice(0, 8)}.json`;
  Deno.writeTextFileSync(file, JSON.stringify(options));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, file],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const done = (async () => {
    const out = await child.output();
    await Deno.remove(file).catch(() => {});
    if (!out.success) {
      throw new Error(
        `the cart load failed (${out.code}): ${new TextDecoder().decode(out.stderr).slice(-600)}`,
      );
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)) as CheckoutLoadReport;
  })();
  return { pid: child.pid, done };
}

if (import.meta.main) {
  const [file] = Deno.args;
  if (file === undefined) throw new Error("usage: deno run -A bench/cart_load.ts OPTIONS.json");
  const options = JSON.parse(await Deno.readTextFile(file)) as CheckoutLoadOptions;
  console.log(JSON.stringify(await runCheckoutLoops(options)));
}
