/**
 * Server-side time per RPC from the services' Prometheus `/metrics` (`grpc_server_handling_seconds`),
 * read before and after a scenario: where the time of a saga goes, by service and method, without
 * attaching a profiler.
 *
 * @module
 */

/** Count and total seconds of one method's handling-time histogram (summed over status codes). */
export interface MethodTime {
  count: number;
  seconds: number;
}

/**
 * The `grpc_server_handling_seconds` count and sum per `Service/Method` from a Prometheus text page.
 *
 * @example
 * ```ts
 * const text = [
 *   'grpc_server_handling_seconds_sum{grpc_service="shop.product.v1.InventoryService",grpc_method="ReserveStock",grpc_code="OK"} 2.5',
 *   'grpc_server_handling_seconds_count{grpc_service="shop.product.v1.InventoryService",grpc_method="ReserveStock",grpc_code="OK"} 10',
 * ].join("\n");
 * parseHandlingTimes(text).get("InventoryService/ReserveStock"); // { count: 10, seconds: 2.5 }
 * ```
 */
export function parseHandlingTimes(text: string): Map<string, MethodTime> {
  const times = new Map<string, MethodTime>();
  const line = /^grpc_server_handling_seconds_(sum|count)\{([^}]*)\} ([0-9.eE+-]+)$/;
  for (const raw of text.split("\n")) {
    const match = line.exec(raw.trim());
    if (!match) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    const service = String(labels.grpc_service ?? "").split(".").pop() ?? "";
    const key = `${service}/${labels.grpc_method ?? ""}`;
    const entry = times.get(key) ?? { count: 0, seconds: 0 };
    if (match[1] === "sum") entry.seconds += Number(match[3]);
    else entry.count += Number(match[3]);
    times.set(key, entry);
  }
  return times;
}

/**
 * The calls and mean milliseconds of each method between two readings (methods not called left out).
 *
 * @example
 * ```ts
 * const before = new Map([["A/B", { count: 1, seconds: 1 }]]);
 * const after = new Map([["A/B", { count: 3, seconds: 1.5 }]]);
 * timesBetween(before, after); // { "A/B": { calls: 2, meanMs: 250 } }
 * ```
 */
export function timesBetween(
  before: Map<string, MethodTime>,
  after: Map<string, MethodTime>,
): Record<string, { calls: number; meanMs: number }> {
  const out: Record<string, { calls: number; meanMs: number }> = {};
  for (const [key, now] of after) {
    const then = before.get(key) ?? { count: 0, seconds: 0 };
    const calls = now.count - then.count;
    if (calls <= 0) continue;
    out[key] = { calls, meanMs: Math.round(((now.seconds - then.seconds) / calls) * 1000 * 10) / 10 };
  }
  return out;
}
