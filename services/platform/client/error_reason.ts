import { ConnectError } from "@connectrpc/connect";
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
