import { ConnectError } from "@connectrpc/connect";
import { errorReasonOf, isTransient } from "@shop/platform/client";
import { DependencyFailed, DependencyUnavailable } from "../domain/ports.ts";

/**
 * What the saga makes of another service's error that is not an outcome it expects: one that may pass
 * (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) is {@linkcode DependencyUnavailable}, retried;
 * anything else is {@linkcode DependencyFailed}, final, carrying the other service's reason and
 * message. A failure that is not even a Connect error (a bug in the adapter) is final too.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * dependencyError(new ConnectError("down", Code.Unavailable)); // a DependencyUnavailable
 * ```
 */
export function dependencyError(error: unknown): DependencyUnavailable | DependencyFailed {
  if (isTransient(error)) {
    return new DependencyUnavailable((error as ConnectError).rawMessage, { cause: error });
  }
  if (error instanceof ConnectError) {
    return new DependencyFailed(error.rawMessage, {
      reason: errorReasonOf(error) ?? "UNKNOWN",
      cause: error,
    });
  }
  return new DependencyFailed("internal error", { reason: "INTERNAL", cause: error });
}
