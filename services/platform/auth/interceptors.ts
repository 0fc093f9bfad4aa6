import type { Interceptor } from "@connectrpc/connect";
import { DomainError } from "../errors/domain_error.ts";
import { callerKey, claimsFromGateway, forwardedClaimsHeader, type UserClaims } from "./caller.ts";

/**
 * Resolves the user of each call from the gateway's forwarded claims (trusted only from the gateway's
 * certificate) unless something earlier already set one. A service that also accepts bearer tokens
 * directly adds its own interceptor after this one.
 *
 * @example
 * ```ts
 * const interceptors = [gatewayClaimsInterceptor()];
 * ```
 */
export function gatewayClaimsInterceptor(): Interceptor {
  return (next) => (req) => {
    const caller = req.contextValues.get(callerKey);
    if (!caller.user) {
      const user = claimsFromGateway(caller.peer, req.header.get(forwardedClaimsHeader));
      if (user) req.contextValues.set(callerKey, { ...caller, user });
    }
    return next(req);
  };
}

/**
 * Limits services to the peers allowed to call them: `{ "shop.product.v1.InventoryService": ["order"] }`
 * lets only the order service's certificate reach the inventory; any other peer gets PERMISSION_DENIED.
 * Services not named are open to every authenticated peer.
 *
 * @example
 * ```ts
 * const interceptor = allowedPeersInterceptor({ "shop.payment.v1.PaymentProcessorService": ["order"] });
 * ```
 */
export function allowedPeersInterceptor(allowed: Readonly<Record<string, readonly string[]>>): Interceptor {
  return (next) => (req) => {
    const peers = allowed[req.service.typeName];
    if (peers) {
      const { peer } = req.contextValues.get(callerKey);
      if (peer === undefined || !peers.includes(peer)) {
        throw new DomainError(
          "permission_denied",
          "PERMISSION_DENIED",
          `${req.service.typeName} does not accept calls from ${peer ?? "an unidentified peer"}`,
        );
      }
    }
    return next(req);
  };
}

/**
 * For calls that reach a service directly rather than through the gateway: verifies an
 * `Authorization: Bearer` token with `verify` and makes its subject the call's user. A call that already
 * has a user (from the gateway) is left alone; a token that does not verify leaves the call anonymous,
 * so handlers answer UNAUTHENTICATED where they need a user.
 *
 * @example
 * ```ts
 * const interceptor = bearerTokenInterceptor(async () => undefined);
 * ```
 */
export function bearerTokenInterceptor(
  verify: (token: string) => Promise<UserClaims | undefined>,
): Interceptor {
  return (next) => async (req) => {
    const caller = req.contextValues.get(callerKey);
    const authorization = req.header.get("authorization");
    if (!caller.user && authorization?.startsWith("Bearer ")) {
      const user = await verify(authorization.slice("Bearer ".length).trim());
      if (user) req.contextValues.set(callerKey, { ...caller, user });
    }
    return next(req);
  };
}
