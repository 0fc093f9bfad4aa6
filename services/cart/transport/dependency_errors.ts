/**
 * The cart's one mapping of its dependencies' errors (product, order) to what its own caller sees.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { errorReasonOf, isTransient } from "@shop/platform/client";
import { DomainError, type ErrorKind } from "@shop/platform/errors";

const kinds: Partial<Record<Code, ErrorKind>> = {
  [Code.InvalidArgument]: "invalid_argument",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.Aborted]: "aborted",
};

/**
 * A dependency's error as the cart's caller sees it: one that may pass (UNAVAILABLE, DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED) is UNAVAILABLE, try again; a rule the order service applied to the customer's
 * request (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) keeps its code, reason and message; anything else
 * (PERMISSION_DENIED between services, a bug) is UNAVAILABLE with the cause logged, never shown.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * dependencyError("order", new ConnectError("down", Code.Unavailable)).kind; // "unavailable"
 * ```
 */
export function dependencyError(service: "product" | "order", error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  const kind = error instanceof ConnectError && !isTransient(error) ? kinds[error.code] : undefined;
  if (error instanceof ConnectError && kind) {
    return new DomainError(kind, errorReasonOf(error) ?? "UNKNOWN", error.rawMessage, { cause: error });
  }
  return new DomainError(
    "unavailable",
    "DEPENDENCY_UNAVAILABLE",
    `the ${service} service is unavailable; try again in a moment`,
    { cause: error, retryAfterMs: 1_000 },
  );
}
