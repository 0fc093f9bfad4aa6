/**
 * Caller identity: the mTLS peer of a call, the user whose verified claims the gateway forwarded, and
 * interceptors that enforce who may call what.
 *
 * @example
 * ```ts
 * import { allowedPeersInterceptor, gatewayClaimsInterceptor } from "./mod.ts";
 * const interceptors = [gatewayClaimsInterceptor(), allowedPeersInterceptor({ "shop.product.v1.InventoryService": ["order"] })];
 * ```
 * @module
 */
export * from "./bearer_tokens.ts";
export * from "./caller.ts";
export * from "./interceptors.ts";
