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
 * Too many password attempts from this address for now; says how long to wait, in the message and as a
 * retry hint.
 *
 * @example
 * ```ts
 * throw signInThrottled(60_000);
 * ```
 */
export function signInThrottled(retryAfterMs: number): DomainError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1_000));
  const minutes = Math.ceil(seconds / 60);
  const wait = seconds < 120 ? `${seconds} second${seconds === 1 ? "" : "s"}` : `${minutes} minutes`;
  return new DomainError(
    "resource_exhausted",
    "RATE_LIMITED",
    `too many password attempts; try again in ${wait}`,
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

/**
 * The configured admin email belongs to a customer account: promoting it would hand admin rights to
 * whoever registered it. Names the account by id only (no email in logs).
 *
 * @example
 * ```ts
 * throw adminEmailTaken("0b7f5a2e-4c1d-4e8a-9f3b-2d6c8e1a5b70");
 * ```
 */
export function adminEmailTaken(userId: string): DomainError {
  return new DomainError(
    "failed_precondition",
    "ADMIN_EMAIL_TAKEN",
    `the configured admin email belongs to customer account ${userId}; refusing to make it an admin`,
    { metadata: { user_id: userId } },
  );
}
