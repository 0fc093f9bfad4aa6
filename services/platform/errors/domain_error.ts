/**
 * Typed errors for domain code. They carry what a caller needs (a kind that becomes the gRPC code, a
 * stable reason, safe metadata, the fields at fault) and nothing of transport: the kit maps them to
 * gRPC at the edge, so `domain/` never imports Connect or generated code.
 *
 * @module
 */

/** The kinds of failure a domain can report; each maps to one gRPC code. */
export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "permission_denied"
  | "unauthenticated"
  | "resource_exhausted"
  | "aborted"
  | "unavailable"
  | "deadline_exceeded";

/** A request field at fault and why, for `google.rpc.BadRequest`. */
export interface FieldProblem {
  /** The field's path in proto names, for example `items[0].quantity`. */
  field: string;
  /** What is wrong, in words the caller can act on. */
  description: string;
}

/** What a domain error may carry besides its message. */
export interface DomainErrorOptions {
  /** Safe key-value facts for `google.rpc.ErrorInfo.metadata` (ids, limits; never secrets). */
  metadata?: Record<string, string>;
  /** Fields at fault (for `invalid_argument`). */
  fields?: FieldProblem[];
  /** When to try again, in milliseconds (for `resource_exhausted` and `unavailable`). */
  retryAfterMs?: number;
  /** The underlying error, for the server's log only; never sent to the caller. */
  cause?: unknown;
}

/**
 * An expected failure of a business rule. The message is sent to the caller, so it must be safe and
 * useful to them; put internals in `cause`.
 *
 * @example
 * ```ts
 * throw new DomainError("failed_precondition", "OUT_OF_STOCK", "Only 2 units of Kettle are left", {
 *   metadata: { product_id: "p-1", available: "2" },
 * });
 * ```
 */
export class DomainError extends Error {
  override name = "DomainError";
  /** Which gRPC code this becomes. */
  readonly kind: ErrorKind;
  /** A stable UPPER_SNAKE_CASE reason (see shop.common.v1.ErrorReason), for `ErrorInfo.reason`. */
  readonly reason: string;
  /** Safe facts for `ErrorInfo.metadata`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Fields at fault. */
  readonly fields: readonly FieldProblem[];
  /** Retry hint in milliseconds, if any. */
  readonly retryAfterMs: number | undefined;

  /** Creates a domain error of a kind, with a stable reason and a caller-safe message. */
  constructor(kind: ErrorKind, reason: string, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.reason = reason;
    this.metadata = options.metadata ?? {};
    this.fields = options.fields ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * A request that breaks a rule about its fields: INVALID_ARGUMENT naming each field.
 *
 * @example
 * ```ts
 * throw invalidArgument([{ field: "update_mask", description: "only display_name can be changed" }]);
 * ```
 */
export function invalidArgument(fields: FieldProblem[], message?: string): DomainError {
  const summary = message ?? fields.map((f) => `${f.field}: ${f.description}`).join("; ");
  return new DomainError("invalid_argument", "INVALID_ARGUMENT", summary, { fields });
}

/**
 * A resource that does not exist, or that the caller may not know exists.
 *
 * @example
 * ```ts
 * throw notFound("order", "0b6b5f7e-9a51-4c8e-9d1f-3c2a1d4e5f60");
 * ```
 */
export function notFound(resource: string, id: string): DomainError {
  return new DomainError("not_found", "NOT_FOUND", `${resource} ${id} not found`, {
    metadata: { resource, id },
  });
}
