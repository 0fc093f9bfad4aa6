/**
 * Verifying an access token presented straight to a service (not through the gateway, which verifies
 * tokens itself and forwards the claims).
 *
 * @module
 */
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import type { UserClaims } from "./caller.ts";

/** What a token must be to verify. */
export interface BearerTokenPolicy {
  /** The public keys, read on every call (a key ring that is reloaded hands out its current set). */
  jwks: () => JSONWebKeySet;
  /** The `iss` the token must carry. */
  issuer: string;
  /** The `aud` the token must carry. */
  audience: string;
  /**
   * The longest life a token may claim (`exp - iat`), in ms: the issuer's access token lifetime. A
   * token claiming more (signed by a leaked key, or under an older, longer setting) is refused.
   */
  maxLifetimeMs: number;
}

/** How far clocks may disagree when checking `exp` and `iat`, in seconds. */
const clockToleranceSeconds = 5;

/**
 * A verifier of ES256 access tokens for {@linkcode bearerTokenInterceptor}: the user of a token that
 * verifies against the current keys, issuer and audience, names a subject, and carries an `exp` and an
 * `iat` no further apart than `maxLifetimeMs`, issued no later than now; `undefined` for any other.
 *
 * @example
 * ```ts ignore
 * const interceptor = bearerTokenInterceptor(bearerTokenVerifier({
 *   jwks: () => ring.jwks,
 *   issuer: "shop-user",
 *   audience: "shop",
 *   maxLifetimeMs: 300_000,
 * }));
 * ```
 */
export function bearerTokenVerifier(
  policy: BearerTokenPolicy,
): (token: string) => Promise<UserClaims | undefined> {
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(policy.jwks()), {
        issuer: policy.issuer,
        audience: policy.audience,
        algorithms: ["ES256"],
        requiredClaims: ["sub", "exp", "iat"],
        clockTolerance: clockToleranceSeconds,
      });
      const { sub, exp, iat } = payload;
      if (!sub || exp === undefined || iat === undefined) return undefined;
      if (exp - iat > Math.floor(policy.maxLifetimeMs / 1000)) return undefined;
      if (iat > Date.now() / 1000 + clockToleranceSeconds) return undefined;
      return { id: sub, role: payload.role === "admin" ? "admin" : "customer", claims: payload };
    } catch {
      return undefined;
    }
  };
}
