/**
 * Request validation against the protovalidate rules declared in the contracts.
 *
 * @example
 * ```ts
 * import { validateRequest } from "./mod.ts";
 * ```
 * @module
 */
export * from "./validate_request.ts";
