import type { HttpRoute } from "@shop/platform/server";
import type { KeyRing } from "../credentials/signing_keys.ts";

/** Where verifiers (Envoy's jwt_authn, other services) fetch the public keys. */
export const jwksPath = "/.well-known/jwks.json";

/**
 * Serves the JWKS document: the public half of every signing key in the ring, each with `kid` and `alg`
 * (Envoy needs both). Cacheable for a minute, so a rotation reaches verifiers quickly.
 *
 * @example
 * ```ts
 * import { readKeyRing } from "../credentials/signing_keys.ts";
 * const ring = await readKeyRing("certs/dev/jwt");
 * const route = jwksRoute(() => ring);
 * ```
 */
export function jwksRoute(ring: () => KeyRing): HttpRoute {
  return {
    method: "GET",
    path: jwksPath,
    handle: () =>
      new Response(JSON.stringify(ring().jwks), {
        headers: { "content-type": "application/json", "cache-control": "public, max-age=60" },
      }),
  };
}
