/**
 * Typed domain errors. Pure: no Connect, no generated code, so `domain/` folders can use it. The one
 * mapping to gRPC, `toConnectError`, is exported by `@shop/platform/server`.
 *
 * @example
 * ```ts
 * import { DomainError } from "./mod.ts";
 * throw new DomainError("already_exists", "ALREADY_EXISTS", "email is taken");
 * ```
 * @module
 */
export * from "./domain_error.ts";
