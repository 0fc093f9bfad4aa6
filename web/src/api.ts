/**
 * The browser's way into the shop: Connect clients of the public services over the gateway's Connect
 * route (the same origin that served the page), and the session (tokens) they send.
 *
 * Tokens: the access token lives in memory only (a module variable), so nothing readable survives the
 * tab; the refresh token lives in `localStorage`, so a reload or a new tab signs in silently. The API
 * hands tokens out in response bodies (there is no cookie endpoint, and the issue forbids UI-only APIs);
 * the Content-Security-Policy the gateway sends (scripts from this origin only, no inline script) is
 * what stands between a script injection and that token.
 *
 * @module
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { CartService } from "@shop/proto/cart";
import { BadRequestSchema } from "@shop/proto/google";
import { OrderService } from "@shop/proto/order";
import { PaymentService } from "@shop/proto/payment";
import { ProductService } from "@shop/proto/product";
import { AuthService, UserService } from "@shop/proto/user";

const refreshKey = "shop.refreshToken";

/** The signed-in state the pages react to. */
export interface Session {
  signedIn: boolean;
}

let accessToken = "";
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<() => void>();

/**
 * Runs `listener` whenever the session changes (sign in, sign out, a refresh that failed).
 *
 * @example
 * ```ts ignore
 * onSessionChange(() => render());
 * ```
 */
export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Whether a session (an access token) is held now.
 *
 * @example
 * ```ts ignore
 * if (!isSignedIn()) location.hash = "#/signin";
 * ```
 */
export function isSignedIn(): boolean {
  return accessToken !== "";
}

const bearer: Interceptor = (next) => (request) => {
  if (accessToken !== "") request.header.set("authorization", `Bearer ${accessToken}`);
  return next(request);
};

const transport = createConnectTransport({
  baseUrl: globalThis.location?.origin ?? "http://localhost",
  interceptors: [bearer],
});

/** The public API, one client per service. */
export const api = {
  auth: createClient(AuthService, transport),
  users: createClient(UserService, transport),
  products: createClient(ProductService, transport),
  orders: createClient(OrderService, transport),
  cart: createClient(CartService, transport),
  payments: createClient(PaymentService, transport),
};

function keep(tokens: { accessToken: string; refreshToken: string; expiresIn: number }): void {
  accessToken = tokens.accessToken;
  localStorage.setItem(refreshKey, tokens.refreshToken);
  clearTimeout(refreshTimer);
  // Refresh a little before the access token expires, so calls never meet an expired one.
  refreshTimer = setTimeout(() => void refresh(), Math.max(5, tokens.expiresIn - 30) * 1000);
  listeners.forEach((listener) => listener());
}

function forget(): void {
  accessToken = "";
  localStorage.removeItem(refreshKey);
  clearTimeout(refreshTimer);
  listeners.forEach((listener) => listener());
}

/**
 * Signs in with email and password.
 *
 * @example
 * ```ts ignore
 * await signIn("ada@example.com", "a long secret");
 * ```
 */
export async function signIn(email: string, password: string): Promise<void> {
  keep(await api.auth.login({ email, password }));
}

/**
 * Trades the stored refresh token for a new pair (silent sign-in on load, and before expiry).
 * Resolves false when there is none or it no longer works.
 *
 * @example
 * ```ts ignore
 * await refresh(); // on page load
 * ```
 */
export async function refresh(): Promise<boolean> {
  const refreshToken = localStorage.getItem(refreshKey);
  if (refreshToken === null || refreshToken === "") return false;
  try {
    keep(await api.auth.refreshToken({ refreshToken }));
    return true;
  } catch (error) {
    // Only a refused token ends the session; a network blip keeps it for the next try.
    if (error instanceof ConnectError && error.code === Code.Unavailable) return false;
    forget();
    return false;
  }
}

/**
 * Revokes the refresh token and forgets both tokens.
 *
 * @example
 * ```ts ignore
 * await signOut();
 * ```
 */
export async function signOut(): Promise<void> {
  const refreshToken = localStorage.getItem(refreshKey) ?? "";
  try {
    if (refreshToken !== "") await api.auth.logout({ refreshToken });
  } finally {
    forget();
  }
}

/** A message for a person, and the request field it is about when the API named one. */
export interface Problem {
  message: string;
  field?: string;
}

/**
 * What went wrong in a call, in words, with the field the API's error names (field violations of a
 * bad request come back in a `google.rpc.BadRequest` detail).
 *
 * @example
 * ```ts ignore
 * catch (error) { setProblem(problemOf(error)); }
 * ```
 */
export function problemOf(error: unknown): Problem {
  if (!(error instanceof ConnectError)) return { message: String(error) };
  if (error.code === Code.Unauthenticated) return { message: "Please sign in again." };
  if (error.code === Code.PermissionDenied) return { message: "You are not allowed to do that." };
  const [violation] = error.findDetails(BadRequestSchema).flatMap((bad) => bad.fieldViolations);
  if (violation === undefined) return { message: error.rawMessage };
  // `shipping_address.postal_code` names the form field `postal_code`.
  return { message: violation.description, field: violation.field.split(".").pop() ?? violation.field };
}
