import {
  type ConnectRouter,
  createRouterTransport,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { callerKey, forwardedClaimsHeader, gatewayIdentity } from "../auth/caller.ts";
import { allowedPeersInterceptor, gatewayClaimsInterceptor } from "../auth/interceptors.ts";
import { errorInterceptor, validationInterceptor } from "./interceptors.ts";

/** Options of {@linkcode inMemoryTransport}. */
export interface InMemoryTransportOptions {
  /** The mTLS identity every call appears to come from (`gateway` unless set). */
  peer?: string;
  /** As for {@linkcode startServer}. */
  allowedPeers?: Readonly<Record<string, readonly string[]>>;
  /** The service's own interceptors. */
  interceptors?: Interceptor[];
}

/**
 * A transport straight into a service's routes, for fast handler tests: no network, but the same error
 * mapping, identity handling and protovalidate checks as {@linkcode startServer}, so tests see what
 * real callers see. Calls appear to arrive from `peer` (the gateway unless set); send a user's claims
 * the way Envoy does, with {@linkcode gatewayClaims}.
 *
 * @example
 * ```ts
 * import { createClient } from "@connectrpc/connect";
 * import { ProductService } from "@shop/proto/product";
 * const transport = inMemoryTransport((router) => router.service(ProductService, {}));
 * const client = createClient(ProductService, transport);
 * await client.getProduct({ id: "p-1" }, { headers: gatewayClaims({ sub: "u-1", role: "admin" }) })
 *   .catch(() => {});
 * ```
 */
export function inMemoryTransport(
  routes: (router: ConnectRouter) => void,
  options: InMemoryTransportOptions = {},
): Transport {
  const peer = options.peer ?? gatewayIdentity;
  const asPeer: Interceptor = (next) => (req) => {
    req.contextValues.set(callerKey, { peer, user: undefined });
    return next(req);
  };
  return createRouterTransport(routes, {
    router: {
      interceptors: [
        errorInterceptor(),
        asPeer,
        gatewayClaimsInterceptor(),
        allowedPeersInterceptor(options.allowedPeers ?? {}),
        validationInterceptor(),
        ...(options.interceptors ?? []),
      ],
    },
  });
}

/**
 * Headers carrying verified JWT claims as Envoy forwards them (`x-jwt-payload`, base64url JSON).
 *
 * @example
 * ```ts
 * const headers = gatewayClaims({ sub: "u-1", role: "customer" });
 * ```
 */
export function gatewayClaims(claims: Record<string, unknown>): Record<string, string> {
  const bytes = new TextEncoder().encode(JSON.stringify(claims));
  const payload = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
  return { [forwardedClaimsHeader]: payload };
}
