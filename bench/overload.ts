/**
 * The overload scenario of the bench (issue 21 item 2): CreateOrder through the gateway at 1x (16 in
 * flight) and at 4x (64 in flight), on two fresh stacks side by side: one as shipped (each service sheds
 * beyond `server.maxInFlight`), one with the limit out of reach (`before`: calls queue until their
 * deadlines, as before shedding). Runs interleave (before 1x, after 1x, before 4x, after 4x) so that a
 * change in the machine's load touches both alike.
 *
 * Figures per run: goodput (orders that ended PAID per second), p99 of the admitted answers (2xx), p99
 * of the refusals (429), and every status. The targets are met when, with shedding: goodput at 4x >= 0.8x
 * goodput at 1x, admitted p99 at 4x <= 3x p99 at 1x, refusals' p99 < 50 ms, no service exited, and
 * goodput at 1x no lower than before (within the run's noise, reported as the ratio).
 *
 * @module
 */
import { round } from "./results.ts";

/** One answer of a load run: HTTP status, latency, and the order's status when there was one. */
export interface OrderHit {
  code: number;
  latencyMs: number;
  /** `ORDER_STATUS_PAID`, ... from the answer's body. */
  orderStatus?: string;
}

/** What one overload run measured. */
export interface OverloadFigures {
  /** `before` (no shedding) or `after` (shedding as shipped). */
  stack: "before" | "after";
  /**
   * `polite`: the client of {@linkcode politeOrders}, which waits as `retry-after` says before it tries a
   * refused order again; vegeta (which sends its next request at once) when absent.
   */
  client?: "polite";
  concurrency: number;
  durationS: number;
  requests: number;
  /** Orders that ended PAID, per second of the run. */
  goodput: number;
  /** p99 of the answers with an order (2xx), ms. */
  admittedP99Ms: number;
  admittedP50Ms: number;
  /** Refusals (429) and their p50 and p99, ms (0 when none). */
  rejected: number;
  rejectedP50Ms: number;
  rejectedP99Ms: number;
  /** Answers by status: `ORDER_STATUS_PAID`, `HTTP 429`, `HTTP 504`, `no response`, ... */
  statuses: Record<string, number>;
  /**
   * The same refusals as Envoy timed them (its access log's `%DURATION%`: from the request's first byte
   * to the answer's last, inside Envoy), p50 and p99 in ms; absent when the log was not read.
   */
  gatewayRejectedP50Ms?: number;
  gatewayRejectedP99Ms?: number;
}

/** One line of Envoy's access log, the fields the overload figures use. */
export interface GatewayAnswer {
  path: string;
  status: number;
  /** `%RESPONSE_FLAGS%`: `UO` for a call refused at the circuit breaker's limit, `-` for none. */
  flags: string;
  durationMs: number;
}

/**
 * The answers Envoy logged (its JSON access log, see `envoy/gateway_config.ts`) for one path; other
 * lines (Envoy's own messages, other paths) are skipped.
 *
 * @example
 * ```ts
 * gatewayAnswers('{"path":"/v1/orders","status":"429","flags":"UO","duration_ms":"1"}\n', "/v1/orders");
 * // [{ path: "/v1/orders", status: 429, flags: "UO", durationMs: 1 }]
 * ```
 */
export function gatewayAnswers(logText: string, path: string): GatewayAnswer[] {
  const answers: GatewayAnswer[] = [];
  for (const line of logText.split("\n")) {
    if (!line.startsWith("{")) continue;
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (fields.path !== path) continue;
    answers.push({
      path,
      status: Number(fields.status),
      flags: String(fields.flags ?? "-"),
      durationMs: Number(fields.duration_ms),
    });
  }
  return answers;
}

/**
 * The order's status in a CreateOrder answer's body (`ORDER_STATUS_PAID`, ...), if it holds one.
 *
 * @example
 * ```ts
 * orderStatusOf('{"order":{"status":"ORDER_STATUS_PAID"}}'); // "ORDER_STATUS_PAID"
 * orderStatusOf('{"code":8}'); // undefined
 * ```
 */
export function orderStatusOf(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { order?: { status?: string } }).order?.status;
  } catch {
    return undefined; // Not JSON: the HTTP status says enough.
  }
}

/** Options of {@linkcode politeOrders}. */
export interface PoliteOrdersOptions {
  /** `https://127.0.0.1:PORT/v1/orders`. */
  url: string;
  /** Orders in flight or waiting to be tried again: one loop each. */
  concurrency: number;
  durationS: number;
  /** The n-th order's request: headers and body (a new requestId each). */
  order: (n: number) => { headers: Record<string, string>; body: string };
  client: Deno.HttpClient;
}

/**
 * A closed loop of `concurrency` clients placing orders that honour `retry-after`: a refused order
 * (429) is sent again, the same request, once the time it names has passed (times 1 to 1.5, so that
 * refused clients do not come back together); any other answer ends it and the loop places the next.
 * Every answer is a hit, the refusals included.
 *
 * @example
 * ```ts ignore
 * const hits = await politeOrders({ url, concurrency: 64, durationS: 10, order, client });
 * ```
 */
export async function politeOrders(options: PoliteOrdersOptions): Promise<OrderHit[]> {
  const hits: OrderHit[] = [];
  const end = performance.now() + options.durationS * 1000;
  let next = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const { headers, body } = options.order(next++);
      for (;;) {
        const started = performance.now();
        let code = 0;
        let text = "";
        let retryAfterS = 1;
        try {
          const response = await fetch(options.url, {
            method: "POST",
            headers,
            body,
            client: options.client,
            signal: AbortSignal.timeout(30_000),
          });
          code = response.status;
          retryAfterS = Number(response.headers.get("retry-after") ?? 1) || 1;
          text = await response.text();
        } catch {
          // No answer within 30 s or no connection: counted as "no response".
        }
        const orderStatus = orderStatusOf(text);
        hits.push({ code, latencyMs: performance.now() - started, ...(orderStatus ? { orderStatus } : {}) });
        if (code !== 429) break;
        const waitMs = retryAfterS * 1000 * (1 + Math.random() / 2);
        if (performance.now() + waitMs >= end) return;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  return hits;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? 0;
}

/**
 * The figures of one run from its answers.
 *
 * @example
 * ```ts
 * const figures = overloadFigures("after", 64, 10, [
 *   { code: 200, latencyMs: 80, orderStatus: "ORDER_STATUS_PAID" },
 *   { code: 429, latencyMs: 3 },
 * ]);
 * figures.goodput; // 0.1
 * ```
 */
export function overloadFigures(
  stack: "before" | "after",
  concurrency: number,
  durationS: number,
  hits: readonly OrderHit[],
  gateway?: readonly GatewayAnswer[],
  client?: "polite",
): OverloadFigures {
  const statuses: Record<string, number> = {};
  const admitted: number[] = [];
  const rejected: number[] = [];
  let paid = 0;
  for (const hit of hits) {
    const status = hit.orderStatus ?? (hit.code === 0 ? "no response" : `HTTP ${hit.code}`);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (hit.code >= 200 && hit.code < 300) admitted.push(hit.latencyMs);
    if (hit.code === 429) rejected.push(hit.latencyMs);
    if (hit.orderStatus === "ORDER_STATUS_PAID") paid++;
  }
  admitted.sort((a, b) => a - b);
  rejected.sort((a, b) => a - b);
  return {
    stack,
    ...(client === undefined ? {} : { client }),
    concurrency,
    durationS,
    requests: hits.length,
    goodput: round(paid / durationS),
    admittedP50Ms: round(percentile(admitted, 50), 1),
    admittedP99Ms: round(percentile(admitted, 99), 1),
    rejected: rejected.length,
    rejectedP50Ms: round(percentile(rejected, 50), 1),
    rejectedP99Ms: round(percentile(rejected, 99), 1),
    statuses,
    ...(gateway === undefined ? {} : gatewayRefusalFigures(gateway)),
  };
}

function gatewayRefusalFigures(gateway: readonly GatewayAnswer[]) {
  const refused = gateway.filter((answer) => answer.status === 429).map((answer) => answer.durationMs)
    .sort((a, b) => a - b);
  return {
    gatewayRejectedP50Ms: round(percentile(refused, 50), 1),
    gatewayRejectedP99Ms: round(percentile(refused, 99), 1),
  };
}

/** One target of issue 21 and whether the run met it. */
export interface OverloadCheck {
  what: string;
  value: string;
  met: boolean;
}

/**
 * The targets of issue 21 checked against the runs (`before1x`, `after1x`, `after4x`) and the services
 * that exited during them.
 *
 * @example
 * ```ts ignore
 * const checks = overloadChecks(before1x, after1x, after4x, []);
 * ```
 */
export function overloadChecks(
  before1x: OverloadFigures,
  after1x: OverloadFigures,
  after4x: OverloadFigures,
  exits: readonly string[],
): OverloadCheck[] {
  const ratio = (a: number, b: number) => (b === 0 ? 0 : round(a / b, 2));
  return [
    {
      what: "goodput at 64 in flight / goodput at 16 (>= 0.8)",
      value: `${after4x.goodput} / ${after1x.goodput} = ${ratio(after4x.goodput, after1x.goodput)}`,
      met: after4x.goodput >= 0.8 * after1x.goodput,
    },
    {
      what: "admitted p99 at 64 / p99 at 16 (<= 3)",
      value: `${after4x.admittedP99Ms} / ${after1x.admittedP99Ms} ms = ${
        ratio(after4x.admittedP99Ms, after1x.admittedP99Ms)
      }`,
      met: after4x.admittedP99Ms <= 3 * after1x.admittedP99Ms,
    },
    {
      what: "refusals' p99 at 64 (< 50 ms)",
      value: `${after4x.rejectedP99Ms} ms over ${after4x.rejected} refusals`,
      met: after4x.rejectedP99Ms < 50,
    },
    {
      what: "no service exited",
      value: exits.length === 0 ? "none" : exits.join("; "),
      met: exits.length === 0,
    },
    {
      what: "goodput at 16 with shedding / without (>= 1, within noise)",
      value: `${after1x.goodput} / ${before1x.goodput} = ${ratio(after1x.goodput, before1x.goodput)}`,
      met: after1x.goodput >= 0.95 * before1x.goodput,
    },
  ];
}

/**
 * The runs and the checks as Markdown tables, as pasted into bench/README.md.
 *
 * @example
 * ```ts ignore
 * console.log(renderOverload(runs, checks));
 * ```
 */
export function renderOverload(runs: readonly OverloadFigures[], checks: readonly OverloadCheck[]): string {
  const lines = [
    "| stack | in flight | requests | goodput (PAID/s) | admitted p50 | admitted p99 | refused | refused p50 | refused p99 | refused p50 / p99 in Envoy | statuses |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...runs.map((r) =>
      `| ${
        r.stack === "before"
          ? "no shedding (before)"
          : r.client === "polite"
          ? "shedding, client honours retry-after"
          : "shedding"
      } | ${r.concurrency} | ${r.requests} | ${r.goodput} | ${r.admittedP50Ms} ms | ${r.admittedP99Ms} ms | ${r.rejected} | ${r.rejectedP50Ms} ms | ${r.rejectedP99Ms} ms | ${
        r.gatewayRejectedP99Ms === undefined
          ? "-"
          : `${r.gatewayRejectedP50Ms} / ${r.gatewayRejectedP99Ms} ms`
      } | ${
        Object.entries(r.statuses).sort((a, b) => b[1] - a[1]).map(([s, n]) =>
          `${s.replace("ORDER_STATUS_", "")} ${n}`
        )
          .join(", ")
      } |`
    ),
    "",
    "| target | measured | met |",
    "| --- | --- | --- |",
    ...checks.map((c) => `| ${c.what} | ${c.value} | ${c.met ? "yes" : "NO"} |`),
  ];
  return lines.join("\n");
}
