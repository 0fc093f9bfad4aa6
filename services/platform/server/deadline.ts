import type { HandlerContext } from "@connectrpc/connect";

/**
 * When the caller stops waiting for this call, as an absolute time (ms since the epoch), from the
 * call's own deadline (`grpc-timeout`, `connect-timeout-ms`; the gateway sets one on every call it
 * routes); undefined when there is none. A handler passes it down, so that its work and its outgoing
 * calls never outlive the caller.
 *
 * @example
 * ```ts
 * import type { HandlerContext } from "@connectrpc/connect";
 * declare const ctx: HandlerContext;
 * const deadline = callerDeadline(ctx);
 * ```
 */
export function callerDeadline(ctx: HandlerContext): number | undefined {
  const timeoutMs = ctx.timeoutMs();
  return timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
}

const grpcUnits: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * The deadline a request came with, in ms, read from its headers (`grpc-timeout` of gRPC and gRPC-Web,
 * `connect-timeout-ms` of Connect), for logs; undefined when it has none.
 *
 * @example
 * ```ts
 * requestTimeoutMs(new Headers({ "grpc-timeout": "15000m" })); // 15000
 * requestTimeoutMs(new Headers()); // undefined
 * ```
 */
export function requestTimeoutMs(header: Headers): number | undefined {
  const connect = header.get("connect-timeout-ms");
  if (connect !== null && /^\d{1,10}$/.test(connect)) return Number(connect);
  const grpc = /^(\d{1,8})([HMSmun])$/.exec(header.get("grpc-timeout") ?? "");
  if (!grpc) return undefined;
  return Number(grpc[1]) * (grpcUnits[grpc[2] ?? "m"] ?? 1);
}
