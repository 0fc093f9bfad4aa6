/**
 * The loads of the stress run, each a bounded loop until a deadline: the ways of driving the services
 * that were under way when they died in the bench (ISSUE 21 item 1). Every driver uses Deno's `fetch`
 * (hyper), never `node:http2`, so the driving process cannot die of the crash it hunts.
 *
 * @module
 */
import { failureKind, type Tally } from "./tally.ts";

/** What every driver needs. */
export interface DriveContext {
  readonly tally: Tally;
  /** `performance.now()` at which to stop. */
  readonly until: number;
  /** A random number in [0, 1): seeded by the run, so a run can be repeated. */
  readonly random: () => number;
}

/** A random whole number of milliseconds in [min, max]. */
function between(random: () => number, min: number, max: number): number {
  return Math.round(min + random() * (max - min));
}

/**
 * A deadline for one request: a tiny one (1-40 ms, cancelled mid-flight) for `tinyShare` of them, a
 * generous one (10 s) for the rest.
 */
function deadline(context: DriveContext, tinyShare: number): AbortSignal {
  return AbortSignal.timeout(
    context.random() < tinyShare ? between(context.random, 1, 40) : 10_000,
  );
}

async function fetchCounted(
  context: DriveContext,
  driver: string,
  input: string,
  init: RequestInit & { client?: Deno.HttpClient },
): Promise<void> {
  try {
    const response = await fetch(input, init);
    await response.arrayBuffer();
    context.tally.count(driver, String(response.status));
  } catch (error) {
    context.tally.count(driver, failureKind(error));
  }
}

/**
 * Closed-loop workers that read products through the gateway (one product, a page of the catalog), half
 * of them with a tiny deadline: Envoy resets each cancelled stream upstream.
 *
 * @example
 * ```ts ignore
 * await gatewayReads(context, { baseUrl: stack.url, client: stack.client(), productIds, workers: 16 });
 * ```
 */
export async function gatewayReads(
  context: DriveContext,
  options: { baseUrl: string; client: Deno.HttpClient; productIds: readonly string[]; workers: number },
): Promise<void> {
  const worker = async () => {
    while (performance.now() < context.until) {
      const id = options.productIds[between(context.random, 0, options.productIds.length - 1)] ?? "";
      const path = context.random() < 0.7 ? `/v1/products/${id}` : "/v1/products?pageSize=20";
      await fetchCounted(context, "gateway reads", `${options.baseUrl}${path}`, {
        client: options.client,
        signal: deadline(context, 0.5),
      });
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
}

/**
 * Closed-loop workers that place orders through the gateway, a third of them with a tiny deadline: the
 * client leaves while the saga runs on.
 *
 * @example
 * ```ts ignore
 * await gatewayOrders(context, { baseUrl, client, productIds, tokens, workers: 8 });
 * ```
 */
export async function gatewayOrders(
  context: DriveContext,
  options: {
    baseUrl: string;
    client: Deno.HttpClient;
    productIds: readonly string[];
    tokens: readonly string[];
    shippingAddress: unknown;
    workers: number;
  },
): Promise<void> {
  const worker = async (n: number) => {
    while (performance.now() < context.until) {
      const productId = options.productIds[between(context.random, 0, options.productIds.length - 1)];
      await fetchCounted(context, "gateway orders", `${options.baseUrl}/v1/orders`, {
        method: "POST",
        client: options.client,
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${options.tokens[n % options.tokens.length]}`,
        },
        body: JSON.stringify({
          requestId: crypto.randomUUID(),
          items: [{ productId, quantity: 1 }],
          shippingAddress: options.shippingAddress,
          paymentMethod: "pm_card_visa",
        }),
        signal: deadline(context, 0.33),
      });
    }
  };
  await Promise.all(Array.from({ length: options.workers }, (_, n) => worker(n)));
}

/**
 * Bursts of many concurrent HTTP/2 streams on ONE connection straight to a service (Connect JSON over
 * mTLS as the gateway), most cancelled at a random moment; every third burst the client's connection is
 * closed while its streams are still open (a client that goes away mid-stream), and a new one is made.
 *
 * @example
 * ```ts ignore
 * await directStreams(context, { serviceUrl, makeClient, productIds, streamsPerBurst: 200 });
 * ```
 */
export async function directStreams(
  context: DriveContext,
  options: {
    serviceUrl: string;
    makeClient: () => Deno.HttpClient;
    productIds: readonly string[];
    streamsPerBurst: number;
    /** Close the connection under every third burst (true unless set). */
    closeMidBurst?: boolean;
    /** The share of streams cancelled at a random moment (0.6 unless set). */
    cancelShare?: number;
  },
): Promise<void> {
  const closing = options.closeMidBurst ?? true;
  const cancelShare = options.cancelShare ?? 0.6;
  let burst = 0;
  while (performance.now() < context.until) {
    burst++;
    const client = options.makeClient();
    const calls = Array.from({ length: options.streamsPerBurst }, () => {
      const list = context.random() < 0.3;
      const id = options.productIds[between(context.random, 0, options.productIds.length - 1)] ?? "";
      const controller = new AbortController();
      if (context.random() < cancelShare) {
        setTimeout(() => controller.abort(), between(context.random, 0, 50));
      }
      return fetchCounted(
        context,
        "direct h2 streams",
        `${options.serviceUrl}/shop.product.v1.ProductService/${list ? "ListProducts" : "GetProduct"}`,
        {
          method: "POST",
          client,
          headers: { "content-type": "application/json" },
          body: JSON.stringify(list ? { pageSize: 50 } : { id }),
          signal: AbortSignal.any([controller.signal, AbortSignal.timeout(10_000)]),
        },
      );
    });
    const closeNow = closing && burst % 3 === 0;
    if (closeNow) {
      await new Promise((resolve) => setTimeout(resolve, between(context.random, 5, 60)));
      client.close();
      context.tally.count("direct h2 streams", "connection closed mid-burst");
    }
    await Promise.all(calls);
    if (!closeNow) client.close();
  }
}
