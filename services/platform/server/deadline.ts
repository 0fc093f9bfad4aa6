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
