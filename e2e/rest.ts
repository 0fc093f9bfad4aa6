/**
 * A small REST/JSON client for the gateway, the shapes of ARCHITECTURE.md section 5 as TypeScript types,
 * and assertions shared by the end-to-end suites.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Stack } from "./stack.ts";

/** An answer of the gateway: status, headers and the parsed JSON body. */
export interface Reply<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** Options of one call. */
export interface CallOptions {
  /** A bearer token. */
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Calls the gateway: `rest("GET", "/v1/products")`. */
export type Rest = (method: string, path: string, options?: CallOptions) => Promise<Reply>;

/** Money as the contract prints it. */
export interface Money {
  currencyCode: string;
  amountMinor: string;
}

/** `{"user": ...}`. */
export interface User {
  id: string;
  email: string;
  displayName: string;
  role: string;
  createTime: string;
}

/** `{"product": ...}`. */
export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  price: Money;
  stock: number;
  /** Pictures (ARCHITECTURE.md section 7). */
  images?: Array<{ uri: string; altText: string }>;
  createTime: string;
  updateTime: string;
}

/** `{"order": ...}`. */
export interface Order {
  id: string;
  userId: string;
  items: Array<{ productId: string; name: string; unitPrice: Money; quantity: number }>;
  total: Money;
  status: string;
  statusHistory: Array<{ status: string; reason: string; time: string }>;
  failureReason: string;
  createTime: string;
  updateTime: string;
}

/** `{"payment": ...}`. */
export interface Payment {
  id: string;
  orderId: string;
  userId: string;
  amount: Money;
  refundedAmount: Money;
  status: string;
  stripePaymentIntentId: string;
  refunds: Array<{ id: string; amount: Money; createTime: string }>;
  createTime: string;
}

/** The tokens of a sign-in. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: string;
}

/** A signed-in account. */
export interface Session extends Tokens {
  userId: string;
  email: string;
  password: string;
}

/**
 * A REST client of a gateway (the stack's main one unless `baseUrl` is given), optionally from another
 * local address (127.0.0.2, ...). Every answer must be JSON; anything else fails the test with the text.
 *
 * @example
 * ```ts ignore
 * const rest = restClient(stack);
 * const reply = await rest("GET", "/v1/products?pageSize=5");
 * ```
 */
export function restClient(
  stack: Pick<Stack, "client" | "url">,
  options: { localAddress?: string; baseUrl?: string } = {},
): Rest {
  const client = stack.client(options.localAddress);
  const baseUrl = options.baseUrl ?? stack.url;
  return async (method, path, call = {}) => {
    const headers: Record<string, string> = { ...call.headers };
    if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
    if (call.body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      client,
      headers,
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
    });
    const text = await response.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${path} answered ${response.status} with a body that is not JSON: ${text}`);
    }
    return { status: response.status, headers: response.headers, body };
  };
}

/**
 * Asserts a 200 and returns the body as `T`.
 *
 * @example
 * ```ts ignore
 * const { product } = ok<{ product: Product }>(await rest("GET", `/v1/products/${id}`));
 * ```
 */
export function ok<T>(reply: Reply, what = "the call"): T {
  assert.equal(reply.status, 200, `${what}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body as T;
}

/**
 * Asserts an error answer: the HTTP status, a JSON body with the numeric gRPC `code` and a `message`, and
 * (when given) the `google.rpc.ErrorInfo` reason among its `details`.
 *
 * @example
 * ```ts ignore
 * expectError(await rest("GET", "/v1/users"), 401, 16);
 * ```
 */
export function expectError(
  reply: Reply,
  status: number,
  code: number,
  what = "the call",
  reason?: string,
): void {
  const shown = `${what}: ${reply.status} ${JSON.stringify(reply.body)}`;
  assert.equal(reply.status, status, shown);
  assert.match(reply.headers.get("content-type") ?? "", /^application\/json/, shown);
  assert.equal(reply.body.code, code, shown);
  assert.equal(typeof reply.body.message, "string", shown);
  assert.ok(String(reply.body.message).length > 0, shown);
  if (reason !== undefined) assert.ok(reasonsOf(reply).includes(reason), `${shown}: no ErrorInfo ${reason}`);
}

/**
 * The `reason`s of the `google.rpc.ErrorInfo` entries in an error's `details`.
 *
 * @example
 * ```ts ignore
 * assert.ok(reasonsOf(reply).includes("REFUND_EXCEEDS_PAYMENT"));
 * ```
 */
export function reasonsOf(reply: Reply): string[] {
  const details = Array.isArray(reply.body.details)
    ? reply.body.details as Array<Record<string, unknown>>
    : [];
  return details.filter((d) => String(d["@type"]).endsWith("google.rpc.ErrorInfo")).map((d) =>
    String(d.reason)
  );
}

/**
 * RFC 3339 with a `Z` or an offset, as protobuf's JSON mapping prints timestamps.
 *
 * @example
 * ```ts
 * rfc3339.test("2026-01-02T03:04:05.678Z"); // true
 * ```
 */
export const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Registers an account and signs it in.
 *
 * @example
 * ```ts ignore
 * const ada = await signUp(rest, "ada");
 * ```
 */
export async function signUp(rest: Rest, name: string): Promise<Session> {
  const email = `${name}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = `${name} has a long password`;
  const { user } = ok<{ user: User }>(
    await rest("POST", "/v1/users:register", { body: { email, password, displayName: name } }),
    `register ${email}`,
  );
  const tokens = await signIn(rest, email, password);
  return { ...tokens, userId: user.id, email, password };
}

/**
 * Signs in and returns the tokens.
 *
 * @example
 * ```ts ignore
 * const admin = await signIn(rest, stack.admin.email, stack.admin.password);
 * ```
 */
export async function signIn(rest: Rest, email: string, password: string): Promise<Tokens> {
  return ok<Tokens>(await rest("POST", "/v1/auth:login", { body: { email, password } }), `login ${email}`);
}

/**
 * A shipping address that passes validation.
 *
 * @example
 * ```ts ignore
 * await rest("POST", "/v1/orders", { token, body: { requestId, items, shippingAddress: address, paymentMethod: "pm_card_visa" } });
 * ```
 */
export const address = {
  name: "Ada Lovelace",
  line1: "12 St James's Square",
  line2: "",
  city: "London",
  postalCode: "SW1Y 4JH",
  country: "GB",
} as const;

/**
 * Places an order of single or several units and returns the reply (the order is in `body.order`).
 *
 * @example
 * ```ts ignore
 * const reply = await placeOrder(rest, ada.accessToken, [{ productId: id, quantity: 1 }]);
 * ```
 */
export async function placeOrder(
  rest: Rest,
  token: string,
  items: Array<{ productId: string; quantity: number }>,
  options: { paymentMethod?: string; requestId?: string } = {},
): Promise<Reply> {
  return await rest("POST", "/v1/orders", {
    token,
    body: {
      requestId: options.requestId ?? crypto.randomUUID(),
      items,
      shippingAddress: address,
      paymentMethod: options.paymentMethod ?? "pm_card_visa",
    },
  });
}

/**
 * Creates a product as the admin.
 *
 * @example
 * ```ts ignore
 * const product = await createProduct(rest, admin.accessToken, { category: "tea", priceMinor: 450, stock: 5 });
 * ```
 */
export async function createProduct(
  rest: Rest,
  adminToken: string,
  fields: { category: string; priceMinor: number; stock: number; name?: string; description?: string },
): Promise<Product> {
  const sku = `E2E-${crypto.randomUUID().slice(0, 12)}`;
  const { product } = ok<{ product: Product }>(
    await rest("POST", "/v1/products", {
      token: adminToken,
      body: {
        sku,
        name: fields.name ?? `Product ${sku}`,
        description: fields.description ?? "",
        category: fields.category,
        price: { currencyCode: "USD", amountMinor: String(fields.priceMinor) },
        stock: fields.stock,
      },
    }),
    `create ${sku}`,
  );
  return product;
}

/**
 * The stock of a product as the public API shows it.
 *
 * @example
 * ```ts ignore
 * assert.equal(await stockOf(rest, id), 5);
 * ```
 */
export async function stockOf(rest: Rest, productId: string): Promise<number> {
  return ok<{ product: Product }>(await rest("GET", `/v1/products/${productId}`), "get product").product
    .stock;
}

/**
 * The payments of an order as `token`'s holder sees them.
 *
 * @example
 * ```ts ignore
 * const payments = await paymentsOf(rest, admin.accessToken, order.id);
 * ```
 */
export async function paymentsOf(rest: Rest, token: string, orderId: string): Promise<Payment[]> {
  return ok<{ payments: Payment[] }>(
    await rest("GET", `/v1/payments?orderId=${orderId}`, { token }),
    `payments of ${orderId}`,
  ).payments;
}
