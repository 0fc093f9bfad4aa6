/**
 * The account rules' failures, as the caller sees them.
 *
 * @module
 */
import { DomainError } from "@shop/platform/errors";

/**
 * One answer for an unknown email and a wrong password, so a caller cannot tell which it was.
 *
 * @example
 * ```ts
 * throw invalidCredentials();
 * ```
 */
export function invalidCredentials(): DomainError {
  return new DomainError("unauthenticated", "UNAUTHENTICATED", "email or password is incorrect");
}

/**
 * Too many failed sign-ins for an account or an address.
 *
 * @example
 * ```ts
 * throw signInThrottled(60_000);
 * ```
 */
export function signInThrottled(retryAfterMs: number): DomainError {
  const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
  return new DomainError(
    "resource_exhausted",
    "RATE_LIMITED",
    `too many failed sign-ins; try again in ${minutes} minute${minutes === 1 ? "" : "s"}`,
    { retryAfterMs },
  );
}

/**
 * A refresh token that is unknown, expired, revoked or already used.
 *
 * @example
 * ```ts
 * throw invalidRefreshToken();
 * ```
 */
export function invalidRefreshToken(): DomainError {
  return new DomainError("unauthenticated", "UNAUTHENTICATED", "refresh token is invalid or expired");
}

/**
 * The email belongs to an account already. Says nothing else about that account.
 *
 * @example
 * ```ts
 * throw emailTaken();
 * ```
 */
export function emailTaken(): DomainError {
  return new DomainError("already_exists", "ALREADY_EXISTS", "an account with this email already exists");
}
