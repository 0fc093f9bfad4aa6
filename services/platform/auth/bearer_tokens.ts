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
}

/**
 * A verifier of ES256 access tokens for {@linkcode bearerTokenInterceptor}: the user of a token that
 * verifies against the current keys, issuer and audience and names a subject; `undefined` for any other.
 *
 * @example
 * ```ts ignore
 * const interceptor = bearerTokenInterceptor(bearerTokenVerifier({
 *   jwks: () => ring.jwks,
 *   issuer: "shop-user",
 *   audience: "shop",
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
      });
      if (!payload.sub) return undefined;
      return { id: payload.sub, role: payload.role === "admin" ? "admin" : "customer", claims: payload };
    } catch {
      return undefined;
    }
  };
}
