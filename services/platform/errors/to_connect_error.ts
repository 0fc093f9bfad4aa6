import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "@shop/proto/google";
import { isConnectionFailure } from "./connection_failure.ts";
import { DomainError, type ErrorKind } from "./domain_error.ts";

/** The `ErrorInfo.domain` of every error the shop's services return. */
export const errorDomain = "shop.example";

const codes: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  resource_exhausted: Code.ResourceExhausted,
  aborted: Code.Aborted,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
};

/** One error detail as Connect sends it. */
interface OutgoingDetail {
  desc: DescMessage;
  value: MessageShape<DescMessage>;
}

/** Builds the detail list that accompanies an error: ErrorInfo, then BadRequest and RetryInfo if any. */
function detailsOf(error: DomainError): OutgoingDetail[] {
  const details: OutgoingDetail[] = [{
    desc: ErrorInfoSchema,
    value: create(ErrorInfoSchema, {
      reason: error.reason,
      domain: errorDomain,
      metadata: { ...error.metadata },
    }),
  }];
  if (error.fields.length > 0) {
    details.push({
      desc: BadRequestSchema,
      value: create(BadRequestSchema, { fieldViolations: error.fields.map((f) => ({ ...f })) }),
    });
  }
  if (error.retryAfterMs !== undefined) {
    const seconds = Math.floor(error.retryAfterMs / 1000);
    details.push({
      desc: RetryInfoSchema,
      value: create(RetryInfoSchema, {
        retryDelay: { seconds: BigInt(seconds), nanos: (error.retryAfterMs % 1000) * 1_000_000 },
      }),
    });
  }
  return details;
}

/**
 * The kit's one mapping from errors to gRPC: a {@linkcode DomainError} becomes its code with
 * `google.rpc.ErrorInfo` (and `BadRequest`, `RetryInfo`); a `ConnectError` passes through; a dependency
 * that is away (a store restarting: {@linkcode isConnectionFailure}) is UNAVAILABLE, reason
 * `DEPENDENCY_UNAVAILABLE`, safe to retry; anything else is a bug and becomes INTERNAL with a generic
 * message. The cause is kept server-side for the log.
 *
 * @example
 * ```ts
 * import { DomainError } from "./domain_error.ts";
 * const error = toConnectError(new DomainError("not_found", "NOT_FOUND", "order 1 not found"));
 * error.code; // Code.NotFound
 * ```
 */
export function toConnectError(error: unknown, requestId?: string): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof DomainError) {
    return new ConnectError(error.message, codes[error.kind], undefined, detailsOf(error), error.cause);
  }
  if (isConnectionFailure(error)) {
    const away = new DomainError(
      "unavailable",
      "DEPENDENCY_UNAVAILABLE",
      "a store or service this call needs is unavailable; try again",
      { retryAfterMs: 1_000 },
    );
    return new ConnectError(away.message, Code.Unavailable, undefined, detailsOf(away), error);
  }
  const reference = requestId ? ` (request id ${requestId})` : "";
  const internal = new DomainError("failed_precondition", "INTERNAL", "internal error");
  return new ConnectError(`internal error${reference}`, Code.Internal, undefined, detailsOf(internal), error);
}
