/**
 * The gateway end to end: a real Envoy rendered by render_config.ts in front of the real user service
 * and stub product and payment services, reached over HTTPS like a client would.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { importPKCS8, SignJWT } from "jose";
import { eventually } from "@shop/platform/testing";
import { ProductService } from "@shop/proto/product";
import { UserService } from "@shop/proto/user";
import { restClient } from "../e2e/rest.ts";
import { admin, type GatewayStack, startGatewayStack, startStub } from "./testdata/gateway_stack.ts";

const grpcJsCall = new URL("./testdata/grpc_js_call.cjs", import.meta.url).pathname;

function fetchWith(client: Deno.HttpClient): typeof fetch {
  return (input, init) => fetch(input, { ...init, client });
}

function base64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A native gRPC call by @grpc/grpc-js in Node. */
async function grpcJs(
  stack: GatewayStack,
  path: string,
  env: Record<string, string> = {},
): Promise<{ code: number; details?: string }> {
  const out = await new Deno.Command("node", {
    args: [grpcJsCall, `127.0.0.1:${stack.port}`, path],
    env: { SHOP_GRPC_CA: `${stack.certsDir}/ca.crt`, NODE_NO_WARNINGS: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.ok(out.success && text !== "", new TextDecoder().decode(out.stderr));
  return JSON.parse(text);
}

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  return await call.then(() => undefined, (error) => ConnectError.from(error).code);
}

Deno.test("the gateway serves the REST contract and enforces tokens, roles and limits", async (t) => {
  await using stack = await startGatewayStack({ label: "gateway" });
  const rest = restClient(stack);
  const email = "ada@example.com";

  const login = async (password: string, as = rest) => {
    const reply = await as("POST", "/v1/auth:login", { body: { email, password } });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body as { accessToken: string; refreshToken: string; expiresIn: number; tokenType: string };
  };
  const adminSession = (await rest("POST", "/v1/auth:login", { body: admin })).body as {
    accessToken: string;
  };
  let userId = "";
  let session = { accessToken: "", refreshToken: "" };

  await t.step("the happy path of the user contract works over REST", async () => {
    const registered = await rest("POST", "/v1/users:register", {
      body: { email, password: "correct horse battery", displayName: "Ada" },
    });
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    const user = registered.body.user as Record<string, unknown>;
    assert.equal(user.role, "ROLE_CUSTOMER");
    userId = String(user.id);

    const first = await login("correct horse battery");
    assert.equal(first.tokenType, "Bearer");
    assert.ok(first.expiresIn > 0);
    const me = await rest("GET", "/v1/users/me", { token: first.accessToken });
    assert.deepEqual([me.status, (me.body.user as Record<string, unknown>).email], [200, email]);

    const patched = await rest("PATCH", "/v1/users/me?updateMask=displayName", {
      token: first.accessToken,
      body: { displayName: "Ada Lovelace" },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal((patched.body.user as Record<string, unknown>).displayName, "Ada Lovelace");

    const changed = await rest("POST", "/v1/users/me:changePassword", {
      token: first.accessToken,
      body: { currentPassword: "correct horse battery", newPassword: "another long secret" },
    });
    assert.deepEqual([changed.status, changed.body], [200, {}]);
    const second = await login("another long secret");

    const refreshed = await rest("POST", "/v1/auth:refresh", { body: { refreshToken: second.refreshToken } });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const reused = await rest("POST", "/v1/auth:refresh", { body: { refreshToken: second.refreshToken } });
    assert.equal(reused.status, 401, "a rotated refresh token no longer works");
    assert.equal(reused.body.code, 16);

    const third = await login("another long secret");
    const loggedOut = await rest("POST", "/v1/auth:logout", {
      token: third.accessToken,
      body: { refreshToken: third.refreshToken },
    });
    assert.deepEqual([loggedOut.status, loggedOut.body], [200, {}]);
    const afterLogout = await rest("POST", "/v1/auth:refresh", {
      body: { refreshToken: third.refreshToken },
    });
    assert.equal(afterLogout.status, 401);
    session = await login("another long secret");

    const listed = await rest("GET", "/v1/users?pageSize=10", { token: adminSession.accessToken });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(
      (listed.body.users as Array<Record<string, unknown>>).map((u) => u.email).sort(),
      [email, admin.email].sort(),
    );
    assert.equal(listed.body.nextPageToken, "", "empty strings are printed (always_print_primitive_fields)");

    const jwks = await rest("GET", "/.well-known/jwks.json");
    assert.equal(jwks.status, 200);
    assert.deepEqual((jwks.body.keys as Array<Record<string, unknown>>).map((k) => [k.kid, k.alg]), [[
      "k-1",
      "ES256",
    ]]);
  });

  await t.step(
    "missing, expired, tampered, unsigned, wrong-audience and unknown-key tokens get 401 JSON",
    async () => {
      const key = await importPKCS8(await Deno.readTextFile(`${stack.keysDir}/k-1.pem`), "ES256");
      const sign = (claims: Record<string, unknown>, header: Record<string, string> = {}) =>
        new SignJWT({ role: "customer", ...claims })
          .setProtectedHeader({ alg: "ES256", kid: "k-1", ...header })
          .setIssuer("shop-user")
          .setSubject(userId)
          .setIssuedAt()
          .sign(key);
      const valid = await sign({ aud: "shop", exp: Math.floor(Date.now() / 1000) + 600 });
      for (const time of ["first", "second (from Envoy's cache of verified tokens)"]) {
        assert.equal(
          (await rest("GET", "/v1/users/me", { token: valid })).status,
          200,
          `the control token works the ${time} time`,
        );
      }

      const [header, payload, signature] = valid.split(".");
      const tampered = `${header}.${
        base64url({ ...JSON.parse(atob(payload ?? "")), role: "admin" })
      }.${signature}`;
      const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${payload}.`;
      const tokens: Record<string, string | undefined> = {
        missing: undefined,
        expired: await sign({ aud: "shop", exp: Math.floor(Date.now() / 1000) - 3600 }),
        tampered,
        "alg none": unsigned,
        "wrong audience": await sign({ aud: "someone-else", exp: Math.floor(Date.now() / 1000) + 600 }),
        "unknown kid": await sign({ aud: "shop", exp: Math.floor(Date.now() / 1000) + 600 }, {
          kid: "k-404",
        }),
        garbage: "not-a-jwt",
      };
      for (const [name, token] of Object.entries(tokens)) {
        const reply = await rest("GET", "/v1/users/me", token === undefined ? {} : { token });
        assert.equal(reply.status, 401, `${name}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.code, 16, name);
        assert.equal(typeof reply.body.message, "string", name);
        assert.match(reply.headers.get("content-type") ?? "", /^application\/json/, name);
      }
    },
  );

  await t.step(
    "a customer is refused admin methods over REST, gRPC, gRPC-Web and Connect alike",
    async () => {
      const token = session.accessToken;
      const restReply = await rest("GET", "/v1/users", { token });
      assert.deepEqual([restReply.status, restReply.body.code], [403, 7]);
      const created = await rest("POST", "/v1/products", { token, body: { name: "Coffee", sku: "C-1" } });
      assert.deepEqual([created.status, created.body.code], [403, 7]);

      assert.equal(
        (await grpcJs(stack, "/shop.user.v1.UserService/ListUsers", { SHOP_GRPC_TOKEN: token })).code,
        7,
      );
      assert.equal((await grpcJs(stack, "/shop.user.v1.UserService/ListUsers")).code, 16, "no token at all");
      assert.equal(
        (await grpcJs(stack, "/shop.user.v1.UserService/ListUsers", {
          SHOP_GRPC_TOKEN: adminSession.accessToken,
        }))
          .code,
        0,
      );

      const client = stack.client();
      const headers = { authorization: `Bearer ${token}` };
      const transports: Record<string, Transport> = {
        "gRPC-Web": createGrpcWebTransport({ baseUrl: stack.url, fetch: fetchWith(client) }),
        "Connect JSON": createConnectTransport({ baseUrl: stack.url, fetch: fetchWith(client) }),
      };
      for (const [name, transport] of Object.entries(transports)) {
        const users = createClient(UserService, transport);
        assert.equal(await codeOf(users.listUsers({}, { headers })), Code.PermissionDenied, name);
        assert.equal(await codeOf(users.listUsers({})), Code.Unauthenticated, name);
        const me = await users.getCurrentUser({}, { headers });
        assert.equal(me.user?.email, email, name);
        const adminCall = await users.listUsers({}, {
          headers: { authorization: `Bearer ${adminSession.accessToken}` },
        });
        assert.equal(adminCall.users.length, 2, name);
      }

      const asAdmin = await rest("POST", "/v1/products", {
        token: adminSession.accessToken,
        body: {
          name: "Coffee",
          sku: "C-1",
          category: "drinks",
          price: { currencyCode: "USD", amountMinor: "500" },
        },
      });
      assert.equal(asAdmin.status, 200, JSON.stringify(asAdmin.body));
      assert.equal(
        (asAdmin.body.product as Record<string, unknown>).description,
        "admin",
        "claims reach the service",
      );
    },
  );

  await t.step("a client's own x-jwt-payload never reaches a service", async () => {
    const forged = base64url({ sub: "mallory", role: "admin", iss: "shop-user", aud: "shop" });
    const spoof = { "x-jwt-payload": forged };
    const anonymous = await rest("GET", "/v1/products/p-1", { headers: spoof });
    assert.equal(
      (anonymous.body.product as Record<string, unknown>).description,
      "anonymous",
      "public route",
    );
    const signedIn = await rest("GET", "/v1/products/p-1", { headers: spoof, token: session.accessToken });
    assert.equal(
      (signedIn.body.product as Record<string, unknown>).description,
      userId,
      "public route with a token",
    );
    const me = await rest("GET", "/v1/users/me", { headers: spoof, token: session.accessToken });
    assert.equal((me.body.user as Record<string, unknown>).id, userId, "private route");
    const listed = await rest("GET", "/v1/users", { headers: spoof, token: session.accessToken });
    assert.equal(listed.status, 403, "private admin route");
    assert.equal(
      (await grpcJs(stack, "/shop.user.v1.UserService/ListUsers", { SHOP_GRPC_CLAIMS: forged })).code,
      16,
      "native gRPC without a token",
    );

    const raw = '{"id": "evt_1",   "type":"payment_intent.succeeded"}\n';
    const webhook = await fetch(`${stack.url}/v1/webhooks/stripe`, {
      method: "POST",
      client: stack.client(),
      headers: { "stripe-signature": "t=1,v1=abc", "content-type": "application/json", ...spoof },
      body: raw,
    });
    assert.equal(webhook.status, 200);
    assert.equal(webhook.headers.get("x-seen-signature"), "t=1,v1=abc");
    assert.equal(webhook.headers.get("x-seen-claims"), "", "the webhook route strips it too");
    assert.equal(await webhook.text(), raw, "the webhook body reaches the payment service byte for byte");
  });

  await t.step(
    "unknown paths get 404, unknown query parameters 400, internal services are never routed",
    async () => {
      // GET / and GET /admin are the web UI (ARCHITECTURE.md section 7); nothing beside them is.
      for (
        const [method, path] of [
          ["GET", "/v1/nope"],
          ["POST", "/"],
          ["GET", "/admin/nope"],
          ["GET", "/assets/nope.js"],
          ["DELETE", "/v1/users/me"],
        ] as const
      ) {
        const reply = await rest(method, path, { token: session.accessToken });
        assert.deepEqual([reply.status, reply.body.code], [404, 5], `${method} ${path}`);
        assert.equal(typeof reply.body.message, "string");
      }
      for (
        const path of [
          "/shop.product.v1.InventoryService/ReserveStock",
          "/shop.payment.v1.PaymentProcessorService/Charge",
        ]
      ) {
        const reply = await rest("POST", path, { token: adminSession.accessToken, body: {} });
        assert.deepEqual([reply.status, reply.body.code], [404, 5], path);
        const grpc = await grpcJs(stack, path, { SHOP_GRPC_TOKEN: adminSession.accessToken });
        assert.equal(grpc.code, 12, `${path} over gRPC is UNIMPLEMENTED`);
      }
      const unknown = await rest("GET", "/v1/users/me?color=blue", { token: session.accessToken });
      assert.deepEqual([unknown.status, unknown.body.code], [400, 3]);
      const products = await rest("GET", "/v1/products?category=drinks&pageSize=5");
      assert.equal(products.status, 200, "known query parameters are fine");
      const first = (products.body.products as Array<Record<string, unknown>>)[0];
      assert.equal(first?.stock, 0, "zero values are printed");
      assert.deepEqual(first?.price, { currencyCode: "USD", amountMinor: "1999" });
    },
  );

  await t.step("a service without instances answers 503 UNAVAILABLE as JSON", async () => {
    const reply = await rest("GET", "/v1/orders", { token: session.accessToken });
    assert.deepEqual([reply.status, reply.body.code], [503, 14]);
  });

  await t.step("request ids are generated when absent and kept when given", async () => {
    const given = await rest("GET", "/v1/products", { headers: { "x-request-id": "req-from-client-1" } });
    assert.equal(given.headers.get("x-request-id"), "req-from-client-1");
    const generated = await rest("GET", "/v1/products");
    assert.match(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });

  await t.step(
    "a burst of sign-ins from one address gets 429 while other addresses are unaffected",
    async () => {
      const burst = restClient(stack, { localAddress: "127.0.0.2" });
      const replies = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          burst("POST", "/v1/auth:login", {
            body: { email: `nobody-${i}@example.com`, password: "wrong password" },
          })),
      );
      const limited = replies.filter((r) =>
        r.status === 429 && r.body.code === 8 && r.headers.has("retry-after")
      );
      assert.ok(
        limited.length > 0,
        `statuses: ${replies.map((r) => r.status).join(",")}`,
      );
      assert.ok(replies.every((r) => r.status === 401 || r.status === 429));
      const other = restClient(stack, { localAddress: "127.0.0.3" });
      assert.equal((await login("another long secret", other)).tokenType, "Bearer");
    },
  );

  await t.step("a burst from one signed-in user gets 429 while other users are unaffected", async () => {
    const client = restClient(stack, { localAddress: "127.0.0.4" });
    const replies = await Promise.all(
      Array.from({ length: 160 }, () => client("GET", "/v1/products/p-1", { token: session.accessToken })),
    );
    assert.ok(
      replies.some((r) => r.status === 429 && r.body.code === 8),
      replies.map((r) => r.status).join(","),
    );
    const other = await client("GET", "/v1/products/p-1", { token: adminSession.accessToken });
    assert.equal(other.status, 200);
  });

  await t.step(
    "beyond the instances' announced capacity a call is refused at once with 429 and retry-after, not queued",
    async () => {
      const original = stack.endpoints();
      const product = original.find((e) => e.service === "product");
      assert.ok(product, "the stack has a product instance");
      await stack.source.set([...original.filter((e) => e !== product), { ...product, capacity: 2 }]);
      const rest127 = restClient(stack, { localAddress: "127.0.0.6" });
      try {
        // Envoy reads the new limit from the bridge's runtime file a moment after it is written.
        await eventually("the gateway refuses a third call while two are in flight", async () => {
          let slowEnded = false;
          const slow = Promise.all([
            rest127("GET", "/v1/products/slow-1500"),
            rest127("GET", "/v1/products/slow-1500"),
          ]).finally(() => slowEnded = true);
          await new Promise((resolve) => setTimeout(resolve, 300));
          const third = await rest127("GET", "/v1/products/p-1");
          const answeredWhileBusy = !slowEnded;
          await slow;
          if (third.status !== 429) return false;
          assert.ok(answeredWhileBusy, "the refusal came while both slow calls were still in flight");
          assert.deepEqual(third.body, {
            code: 8,
            message: "the service is at capacity: retry after the time in retry-after",
          });
          assert.equal(third.headers.get("retry-after"), "1");
          return true;
        }, { timeoutMs: 15_000, intervalMs: 100 });
        // Below the limit calls go through again.
        const calm = await rest127("GET", "/v1/products/p-1");
        assert.equal(calm.status, 200, JSON.stringify(calm.body));
      } finally {
        await stack.source.set(original);
      }
    },
  );

  await t.step("a new instance gets traffic without a restart; a killed one stops getting it", async () => {
    const product2 = await startStub("product", "product-2", stack.certsDir);
    try {
      await stack.source.set([...stack.endpoints(), {
        service: "product",
        address: "127.0.0.1",
        port: product2.port,
      }]);
      await stack.waitForHealthy("product", 2);
      const products = createClient(
        ProductService,
        createConnectTransport({ baseUrl: stack.url, fetch: fetchWith(stack.client("127.0.0.5")) }),
      );
      // Envoy's load balancers pick the new host up a moment after its first passed health check.
      const answered = new Map<string, number>();
      await eventually("both instances answer through the gateway, a few times each", async () => {
        const name = (await products.getProduct({ id: "p-1" })).product?.name ?? "";
        answered.set(name, (answered.get(name) ?? 0) + 1);
        return answered.size >= 2 && [...answered.values()].every((count) => count >= 3);
      }, { timeoutMs: 20_000, intervalMs: 50, lastSeen: () => Object.fromEntries(answered) });
      assert.deepEqual([...answered.keys()].sort(), ["product-1", "product-2"]);

      await product2.kill();
      // The registry would drop it within its lease TTL; until then health checks take it out of rotation.
      await stack.waitForHealthy("product", 1);
      const after = await Promise.all(Array.from({ length: 20 }, () => products.getProduct({ id: "p-1" })));
      assert.deepEqual([...new Set(after.map((r) => r.product?.name))], ["product-1"]);
    } finally {
      await product2.kill();
    }
  });
});
