import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@shop/proto/google";

/**
 * The `google.rpc.ErrorInfo.reason` another service put on an error (`OUT_OF_STOCK`,
 * `PAYMENT_PROCESSING`, ...; see `shop.common.v1.ErrorReason`), or undefined when it carries none: what
 * a client switches on, instead of codes or message text.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * errorReasonOf(new ConnectError("no", Code.Internal)); // undefined
 * ```
 */
export function errorReasonOf(error: unknown): string | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  return error.findDetails(ErrorInfoSchema)[0]?.reason || undefined;
}

/** The codes that say "not now" rather than "no": the same call may succeed if tried again later. */
const transientCodes: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
]);

/**
 * Whether another service's error may pass: UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED. Only
 * these are worth retrying (an idempotent call, with backoff); any other answer is final.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * isTransient(new ConnectError("busy", Code.ResourceExhausted)); // true
 * isTransient(new ConnectError("no", Code.PermissionDenied)); // false
 * ```
 */
export function isTransient(error: unknown): boolean {
  return error instanceof ConnectError && transientCodes.has(error.code);
}
