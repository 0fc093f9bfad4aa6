import type { PeerCertificate, TLSSocket } from "node:tls";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { DomainError } from "../errors/domain_error.ts";
import { identityFromSubjectAltName } from "../tls/tls_files.ts";

/** The signed-in user a call acts for, from verified token claims. */
export interface UserClaims {
  /** The user id (`sub`). */
  id: string;
  /** `admin` or `customer`. */
  role: "admin" | "customer";
  /** All claims, for service-specific checks. */
  claims: Readonly<Record<string, unknown>>;
}

/** Who is calling: the mTLS peer, and the user when the call carries one. */
export interface Caller {
  /** The peer's identity from its certificate (`gateway`, `order`, ...); undefined without one. */
  peer: string | undefined;
  /** The user, when the gateway forwarded verified claims (or a service verified a token itself). */
  user: UserClaims | undefined;
}

/** The identity of the gateway's certificate: the only peer whose forwarded claims are trusted. */
export const gatewayIdentity = "gateway";

/** The header in which Envoy forwards the verified JWT payload (base64url JSON). */
export const forwardedClaimsHeader = "x-jwt-payload";

/** Where a handler finds its {@linkcode Caller}. */
export const callerKey = createContextKey<Caller>({ peer: undefined, user: undefined }, {
  description: "the mTLS peer and the signed-in user of a call",
});

/**
 * The identity named by the client certificate of a TLS socket, if it presented a valid one.
 *
 * @example
 * ```ts
 * import type { PeerCertificate, TLSSocket } from "node:tls";
 * declare const socket: TLSSocket;
 * peerIdentity(socket); // "order"
 * ```
 */
export function peerIdentity(socket: TLSSocket | undefined): string | undefined {
  if (!socket || typeof socket.getPeerCertificate !== "function" || !socket.authorized) return undefined;
  // Deno answers null for a connection that is closing: no certificate, no identity (and no crash).
  const certificate = socket.getPeerCertificate() as PeerCertificate | null;
  return identityFromSubjectAltName(certificate?.subjectaltname);
}

function decodeBase64Url(text: string): string {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}

/**
 * Reads user claims from the gateway's forwarded-claims header, trusting it only when the peer is the
 * gateway (which removes any copy a client sent). Returns undefined for any other peer, a missing header
 * or claims without a subject.
 *
 * @example
 * ```ts
 * const payload = btoa(JSON.stringify({ sub: "u-1", role: "customer" }));
 * claimsFromGateway("gateway", payload)?.id; // "u-1"
 * claimsFromGateway("order", payload); // undefined
 * ```
 */
export function claimsFromGateway(peer: string | undefined, header: string | null): UserClaims | undefined {
  if (peer !== gatewayIdentity || !header) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(decodeBase64Url(header));
  } catch {
    return undefined;
  }
  if (typeof claims !== "object" || claims === null) return undefined;
  const record = claims as Record<string, unknown>;
  if (typeof record.sub !== "string" || record.sub === "") return undefined;
  return { id: record.sub, role: record.role === "admin" ? "admin" : "customer", claims: record };
}

/**
 * The caller of the call being handled.
 *
 * @example
 * ```ts
 * import type { HandlerContext } from "@connectrpc/connect";
 * declare const ctx: HandlerContext;
 * const { user } = callerOf(ctx);
 * ```
 */
export function callerOf(ctx: HandlerContext): Caller {
  return ctx.values.get(callerKey);
}

/**
 * The signed-in user of a call, or UNAUTHENTICATED.
 *
 * @example
 * ```ts
 * import type { HandlerContext } from "@connectrpc/connect";
 * declare const ctx: HandlerContext;
 * const user = requireUser(ctx);
 * ```
 */
export function requireUser(ctx: HandlerContext): UserClaims {
  const { user } = callerOf(ctx);
  if (!user) throw new DomainError("unauthenticated", "UNAUTHENTICATED", "sign in first");
  return user;
}

/**
 * The signed-in admin of a call: UNAUTHENTICATED without a user, PERMISSION_DENIED for a customer.
 *
 * @example
 * ```ts
 * import type { HandlerContext } from "@connectrpc/connect";
 * declare const ctx: HandlerContext;
 * requireAdmin(ctx);
 * ```
 */
export function requireAdmin(ctx: HandlerContext): UserClaims {
  const user = requireUser(ctx);
  if (user.role !== "admin") {
    throw new DomainError("permission_denied", "PERMISSION_DENIED", "only admins may do this");
  }
  return user;
}
