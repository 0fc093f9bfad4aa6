/**
 * The public REST contract (ARCHITECTURE.md section 5) end to end: HTTPS REST/JSON through the real Envoy
 * in front of the four real services, PostgreSQL, FerretDB, etcd discovery and the Stripe simulator, as a
 * client would call it. One stack for the whole file; each step is one claim of the contract.
 */
import assert from "node:assert/strict";
import { eventually } from "@shop/platform/testing";
import {
  address,
  createProduct,
  expectError,
  ok,
  type Order,
  type Payment,
  paymentsOf,
  placeOrder,
  type Product,
  restClient,
  rfc3339,
  type Session,
  signIn,
  signUp,
  stockOf,
  type Tokens,
  type User,
} from "./rest.ts";
import { intentsOf, simulatorState } from "./simulator.ts";
import { startStack } from "./stack.ts";

/** A category of this run only: the dev seed's demo catalog shares the database. */
function category(name: string): string {
  return `e2e-${name}-${crypto.randomUUID().slice(0, 8)}`;
}

function decodeJwtHeader(token: string): Record<string, unknown> {
  const [header = ""] = token.split(".");
  return JSON.parse(atob(header.replaceAll("-", "+").replaceAll("_", "/")));
}

Deno.test({
  name: "the REST contract of ARCHITECTURE.md section 5 holds through the gateway",
  // The stack's processes, clients and timers live across the steps; `await using` stops them.
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  await using stack = await startStack({ label: "contract" });
  const rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const asAdmin = admin.accessToken;
  const bob = await signUp(rest, "bob");

  await t.step(
    "accounts: register, login, refresh rotation, logout, profile, password, admin list",
    async () => {
      const email = `ada-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const registered = await rest("POST", "/v1/users:register", {
        body: { email, password: "correct horse battery", displayName: "Ada" },
      });
      const { user } = ok<{ user: User }>(registered, "register");
      assert.deepEqual(Object.keys(registered.body), ["user"], "a wrapper of the user only");
      assert.deepEqual(
        { email: user.email, displayName: user.displayName, role: user.role },
        { email, displayName: "Ada", role: "ROLE_CUSTOMER" },
      );
      assert.match(user.id, /^[0-9a-f-]{36}$/);
      assert.match(user.createTime, rfc3339);
      assert.equal(JSON.stringify(user).includes("password"), false, "no password (or hash) in a user");

      expectError(
        await rest("POST", "/v1/users:register", {
          body: { email: email.toUpperCase(), password: "another long password", displayName: "Eve" },
        }),
        409,
        6,
        "the same email in other case",
      );
      const weak = await rest("POST", "/v1/users:register", {
        body: { email: `weak-${email}`, password: "short", displayName: "Weak" },
      });
      expectError(weak, 400, 3, "a too short password");
      assert.ok(
        JSON.stringify(weak.body.details ?? []).includes("password"),
        `the field is named: ${JSON.stringify(weak.body)}`,
      );

      const login = (password: string) => rest("POST", "/v1/auth:login", { body: { email, password } });
      expectError(await login("wrong password here"), 401, 16, "a wrong password");
      const first = ok<Tokens>(await login("correct horse battery"), "login");
      assert.equal(first.tokenType, "Bearer");
      assert.equal(typeof first.expiresIn, "number");
      assert.ok(first.expiresIn > 0 && first.expiresIn <= 24 * 3600, `expiresIn ${first.expiresIn}`);
      assert.equal(first.accessToken.split(".").length, 3, "a JWT");
      assert.equal(decodeJwtHeader(first.accessToken).alg, "ES256");
      assert.ok(first.refreshToken.length >= 32);

      const me = ok<{ user: User }>(await rest("GET", "/v1/users/me", { token: first.accessToken }), "me");
      assert.deepEqual(me.user, user, "GET /v1/users/me is the registered user");
      expectError(await rest("GET", "/v1/users/me"), 401, 16, "me without a token");

      const patched = ok<{ user: User }>(
        await rest("PATCH", "/v1/users/me?updateMask=displayName", {
          token: first.accessToken,
          body: { displayName: "Ada Lovelace", email: "not-applied@example.com" },
        }),
        "patch me",
      );
      assert.deepEqual(
        { ...patched.user, updateTime: "" },
        { ...user, displayName: "Ada Lovelace", updateTime: "" },
        "only the masked field changes",
      );

      const refreshed = ok<Tokens>(
        await rest("POST", "/v1/auth:refresh", { body: { refreshToken: first.refreshToken } }),
        "refresh",
      );
      assert.notEqual(refreshed.refreshToken, first.refreshToken, "a new refresh token");
      assert.equal(refreshed.tokenType, "Bearer");
      ok(await rest("GET", "/v1/users/me", { token: refreshed.accessToken }), "the new access token works");
      expectError(
        await rest("POST", "/v1/auth:refresh", { body: { refreshToken: first.refreshToken } }),
        401,
        16,
        "the rotated refresh token",
      );

      const second = ok<Tokens>(await login("correct horse battery"), "second login");
      const loggedOut = await rest("POST", "/v1/auth:logout", {
        token: second.accessToken,
        body: { refreshToken: second.refreshToken },
      });
      assert.deepEqual([loggedOut.status, loggedOut.body], [200, {}]);
      expectError(
        await rest("POST", "/v1/auth:refresh", { body: { refreshToken: second.refreshToken } }),
        401,
        16,
        "a refresh token after logout",
      );
      expectError(
        await rest("POST", "/v1/auth:logout", { body: { refreshToken: second.refreshToken } }),
        401,
        16,
        "logout without a token",
      );

      const third = ok<Tokens>(await login("correct horse battery"), "third login");
      expectError(
        await rest("POST", "/v1/users/me:changePassword", {
          token: third.accessToken,
          body: { currentPassword: "not the password", newPassword: "a brand new secret" },
        }),
        400,
        3,
        "change password with a wrong current password",
      );
      const changed = await rest("POST", "/v1/users/me:changePassword", {
        token: third.accessToken,
        body: { currentPassword: "correct horse battery", newPassword: "a brand new secret" },
      });
      assert.deepEqual([changed.status, changed.body], [200, {}]);
      expectError(await login("correct horse battery"), 401, 16, "the old password");
      ok(await login("a brand new secret"), "the new password");
      expectError(
        await rest("POST", "/v1/auth:refresh", { body: { refreshToken: third.refreshToken } }),
        401,
        16,
        "a refresh token from before the password change",
      );

      expectError(
        await rest("GET", "/v1/users", { token: bob.accessToken }),
        403,
        7,
        "a customer lists users",
      );
      expectError(await rest("GET", "/v1/users"), 401, 16, "list users without a token");
      const seen: User[] = [];
      let pageToken = "";
      for (let page = 0; page < 20; page++) {
        const listed = ok<{ users: User[]; nextPageToken: string }>(
          await rest("GET", `/v1/users?pageSize=1&pageToken=${encodeURIComponent(pageToken)}`, {
            token: asAdmin,
          }),
          "list users",
        );
        assert.ok(listed.users.length <= 1, "pageSize is honoured");
        seen.push(...listed.users);
        assert.equal(
          typeof listed.nextPageToken,
          "string",
          "nextPageToken is printed, empty on the last page",
        );
        pageToken = listed.nextPageToken;
        if (pageToken === "") break;
      }
      assert.equal(pageToken, "", "paging ends");
      const emails = seen.map((u) => u.email);
      assert.equal(new Set(emails).size, emails.length, "no user twice across pages");
      for (const expected of [email, bob.email, stack.admin.email]) {
        assert.ok(emails.includes(expected), expected);
      }
      assert.equal(
        seen.find((u) => u.email === stack.admin.email)?.role,
        "ROLE_ADMIN",
      );
    },
  );

  await t.step("JWKS: the public keys that verify access tokens", async () => {
    const jwks = ok<{ keys: Array<Record<string, unknown>> }>(
      await rest("GET", "/.well-known/jwks.json"),
      "jwks",
    );
    const kid = decodeJwtHeader(bob.accessToken).kid;
    const key = jwks.keys.find((k) => k.kid === kid);
    assert.ok(key, `the token's kid ${kid} is published: ${JSON.stringify(jwks)}`);
    assert.deepEqual([key.kty, key.crv, key.alg], ["EC", "P-256", "ES256"]);
    assert.equal("d" in key, false, "no private part");
  });

  const tea = category("tea");
  let products: Product[] = [];

  await t.step("catalog: admin creates, updates (stock too) and deletes; others get 401/403", async () => {
    const body = {
      sku: `E2E-GREEN-${crypto.randomUUID().slice(0, 6)}`,
      name: "Green Tea",
      description: "Sencha from Shizuoka",
      category: tea,
      // int64 is accepted as a number on input and printed as a string.
      price: { currencyCode: "USD", amountMinor: 450 },
      stock: 0,
    };
    const created = await rest("POST", "/v1/products", { token: asAdmin, body });
    const { product } = ok<{ product: Product }>(created, "create");
    assert.deepEqual(Object.keys(created.body), ["product"]);
    assert.deepEqual(
      { ...product, id: "", createTime: "", updateTime: "" },
      {
        ...body,
        price: { currencyCode: "USD", amountMinor: "450" },
        images: [],
        id: "",
        createTime: "",
        updateTime: "",
      },
      "every field printed, stock 0 and no images included",
    );
    assert.match(product.createTime, rfc3339);
    assert.match(product.updateTime, rfc3339);

    expectError(
      await rest("POST", "/v1/products", { token: asAdmin, body: { ...body, name: "Another" } }),
      409,
      6,
      "a duplicate SKU",
    );
    expectError(
      await rest("POST", "/v1/products", {
        token: asAdmin,
        body: { ...body, sku: "E2E-NEG", price: { currencyCode: "USD", amountMinor: "-1" } },
      }),
      400,
      3,
      "a negative price",
    );
    expectError(
      await rest("POST", "/v1/products", { token: bob.accessToken, body }),
      403,
      7,
      "a customer creates",
    );
    expectError(await rest("POST", "/v1/products", { body }), 401, 16, "create without a token");

    const got = ok<{ product: Product }>(await rest("GET", `/v1/products/${product.id}`), "get");
    assert.deepEqual(got.product, product);
    expectError(await rest("GET", "/v1/products/no-such-product"), 404, 5, "an unknown product");

    const updated = ok<{ product: Product }>(
      await rest("PATCH", `/v1/products/${product.id}?updateMask=price,stock`, {
        token: asAdmin,
        body: { price: { currencyCode: "USD", amountMinor: "475" }, stock: 12, name: "not applied" },
      }),
      "update",
    ).product;
    assert.deepEqual(
      { ...updated, updateTime: "" },
      { ...product, price: { currencyCode: "USD", amountMinor: "475" }, stock: 12, updateTime: "" },
      "price and stock change, nothing else",
    );
    assert.ok(Date.parse(updated.updateTime) >= Date.parse(product.updateTime));
    assert.equal(await stockOf(rest, product.id), 12);
    expectError(
      await rest("PATCH", `/v1/products/${product.id}?updateMask=stock`, {
        token: bob.accessToken,
        body: { stock: 1000 },
      }),
      403,
      7,
      "a customer updates",
    );
    expectError(
      await rest("PATCH", `/v1/products/${product.id}?updateMask=color`, {
        token: asAdmin,
        body: { stock: 1 },
      }),
      400,
      3,
      "an unknown field in the mask",
    );

    const doomed = await createProduct(rest, asAdmin, { category: tea, priceMinor: 100, stock: 1 });
    expectError(
      await rest("DELETE", `/v1/products/${doomed.id}`, { token: bob.accessToken }),
      403,
      7,
      "customer",
    );
    expectError(await rest("DELETE", `/v1/products/${doomed.id}`), 401, 16, "delete without a token");
    const deleted = await rest("DELETE", `/v1/products/${doomed.id}`, { token: asAdmin });
    assert.deepEqual([deleted.status, deleted.body], [200, {}]);
    expectError(await rest("GET", `/v1/products/${doomed.id}`), 404, 5, "a deleted product");
    products = [updated];
  });

  await t.step(
    "catalog: list filters by category, price range and text, and pages with nextPageToken",
    async () => {
      const more = [
        await createProduct(rest, asAdmin, {
          category: tea,
          priceMinor: 1200,
          stock: 3,
          name: "Oolong Tea",
          description: "Roasted Tieguanyin",
        }),
        await createProduct(rest, asAdmin, {
          category: tea,
          priceMinor: 2500,
          stock: 4,
          name: "Matcha",
          description: "Ceremonial grade green powder",
        }),
      ];
      products = [...products, ...more];
      const other = await createProduct(rest, asAdmin, {
        category: category("mugs"),
        priceMinor: 1200,
        stock: 1,
      });
      const list = async (query: string) =>
        ok<{ products: Product[]; nextPageToken: string }>(await rest("GET", `/v1/products?${query}`), query);
      const ids = (found: Product[]) => found.map((p) => p.id);
      const [green, oolong, matcha] = products.map((p) => p.id);

      const all = await list(`category=${tea}`);
      assert.deepEqual(ids(all.products), [green, oolong, matcha], "catalog order: creation time");
      assert.equal(all.nextPageToken, "");
      assert.deepEqual(ids((await list(`category=${tea}&minPriceMinor=1000`)).products), [oolong, matcha]);
      assert.deepEqual(ids((await list(`category=${tea}&maxPriceMinor=1200`)).products), [green, oolong]);
      assert.deepEqual(
        ids((await list(`category=${tea}&minPriceMinor=1000&maxPriceMinor=2000`)).products),
        [oolong],
      );
      assert.deepEqual(
        ids((await list(`category=${tea}&query=green`)).products),
        [green, matcha],
        "name or text",
      );
      assert.deepEqual(ids((await list(`category=${tea}&query=ROASTED%20tieguanyin`)).products), [oolong]);
      assert.deepEqual(
        ids((await list(`query=${encodeURIComponent(other.name)}`)).products),
        [other.id],
        "a query without a category searches the whole catalog",
      );

      const paged: string[] = [];
      let token = "";
      for (let page = 0; page < 5; page++) {
        const found = await list(`category=${tea}&pageSize=2&pageToken=${encodeURIComponent(token)}`);
        assert.ok(found.products.length <= 2);
        paged.push(...ids(found.products));
        token = found.nextPageToken;
        if (token === "") break;
      }
      assert.deepEqual(paged, [green, oolong, matcha], "every product once across pages");
      expectError(
        await rest("GET", `/v1/products?category=${tea}&pageSize=2&pageToken=garbage`),
        400,
        3,
        "a page token that is not one",
      );
      expectError(await rest("GET", "/v1/products?colour=blue"), 400, 3, "an unknown query parameter");
    },
  );

  let ada: Session;
  let paidOrder: Order;

  await t.step(
    "orders: PAID at catalog prices, stock taken, one SUCCEEDED payment; history newest first",
    async () => {
      ada = await signUp(rest, "ada");
      const [green, oolong] = products;
      assert.ok(green && oolong);
      // A client cannot price its order: the request has no price field, and one sent anyway is ignored.
      const priced = ok<{ order: Order }>(
        await rest("POST", "/v1/orders", {
          token: bob.accessToken,
          body: {
            requestId: crypto.randomUUID(),
            items: [{
              productId: green.id,
              quantity: 1,
              unitPrice: { currencyCode: "USD", amountMinor: "1" },
            }],
            shippingAddress: address,
            paymentMethod: "pm_card_visa",
          },
        }),
        "an order with a client-set price",
      ).order;
      assert.equal(priced.status, "ORDER_STATUS_PAID");
      assert.deepEqual([priced.items[0]?.unitPrice, priced.total], [green.price, green.price]);
      const greenStock = await stockOf(rest, green.id);
      const oolongStock = await stockOf(rest, oolong.id);

      const reply = await placeOrder(rest, ada.accessToken, [
        { productId: green.id, quantity: 2 },
        { productId: oolong.id, quantity: 1 },
      ]);
      const { order } = ok<{ order: Order }>(reply, "place order");
      assert.deepEqual(Object.keys(reply.body), ["order"]);
      assert.equal(order.status, "ORDER_STATUS_PAID", JSON.stringify(order));
      assert.equal(order.userId, ada.userId);
      assert.deepEqual(order.items, [
        { productId: green.id, name: green.name, unitPrice: green.price, quantity: 2 },
        { productId: oolong.id, name: oolong.name, unitPrice: oolong.price, quantity: 1 },
      ], "names and prices from the catalog");
      assert.deepEqual(order.total, { currencyCode: "USD", amountMinor: String(2 * 475 + 1200) });
      assert.equal(order.failureReason, "", "printed even when empty");
      assert.deepEqual(order.statusHistory.map((h) => h.status).at(-1), "ORDER_STATUS_PAID");
      assert.equal(order.statusHistory[0]?.status, "ORDER_STATUS_PENDING");
      for (const change of order.statusHistory) assert.match(change.time, rfc3339);
      assert.match(order.createTime, rfc3339);
      assert.match(order.updateTime, rfc3339);
      assert.equal(await stockOf(rest, green.id), greenStock - 2);
      assert.equal(await stockOf(rest, oolong.id), oolongStock - 1);

      const payments = await paymentsOf(rest, ada.accessToken, order.id);
      assert.equal(payments.length, 1, JSON.stringify(payments));
      const [payment] = payments as [Payment];
      assert.equal(payment.status, "PAYMENT_STATUS_SUCCEEDED");
      assert.deepEqual(payment.amount, order.total);
      assert.deepEqual(payment.refundedAmount, { currencyCode: "USD", amountMinor: "0" });
      assert.deepEqual([payment.orderId, payment.userId], [order.id, ada.userId]);
      assert.match(payment.stripePaymentIntentId, /^pi_/);
      assert.deepEqual(payment.refunds, []);
      assert.match(payment.createTime, rfc3339);
      const intents = await intentsOf(stack, order.id);
      assert.deepEqual(
        intents.map((i) => [i.status, i.amount]),
        [["succeeded", 2 * 475 + 1200]],
        "one charge",
      );

      const second = ok<{ order: Order }>(
        await placeOrder(rest, ada.accessToken, [{ productId: oolong.id, quantity: 1 }]),
        "second order",
      ).order;
      const history = ok<{ orders: Order[]; nextPageToken: string }>(
        await rest("GET", "/v1/orders", { token: ada.accessToken }),
        "list orders",
      );
      assert.deepEqual(history.orders.map((o) => o.id), [second.id, order.id], "own orders, newest first");
      assert.deepEqual(history.orders[1], order);
      const firstPage = ok<{ orders: Order[]; nextPageToken: string }>(
        await rest("GET", "/v1/orders?pageSize=1", { token: ada.accessToken }),
        "first page",
      );
      assert.deepEqual(firstPage.orders.map((o) => o.id), [second.id]);
      assert.notEqual(firstPage.nextPageToken, "");
      const secondPage = ok<{ orders: Order[]; nextPageToken: string }>(
        await rest("GET", `/v1/orders?pageSize=1&pageToken=${encodeURIComponent(firstPage.nextPageToken)}`, {
          token: ada.accessToken,
        }),
        "second page",
      );
      assert.deepEqual(secondPage.orders.map((o) => o.id), [order.id]);
      assert.equal(
        ok<{ orders: Order[] }>(await rest("GET", "/v1/orders", { token: bob.accessToken }), "bob's").orders
          .some((o) => o.id === order.id),
        false,
        "nobody else's orders in a customer's history",
      );
      const allOrders = ok<{ orders: Order[] }>(
        await rest("GET", "/v1/orders?pageSize=100", { token: asAdmin }),
        "all",
      );
      assert.ok(allOrders.orders.some((o) => o.id === order.id), "the admin lists every order");

      assert.deepEqual(
        ok<{ order: Order }>(await rest("GET", `/v1/orders/${order.id}`, { token: ada.accessToken })).order,
        order,
      );
      ok(await rest("GET", `/v1/orders/${order.id}`, { token: asAdmin }), "the admin reads any order");
      expectError(
        await rest("GET", `/v1/orders/${order.id}`, { token: bob.accessToken }),
        404,
        5,
        "another's order",
      );
      expectError(await rest("GET", `/v1/orders/${order.id}`), 401, 16, "an order without a token");
      expectError(
        await rest("GET", `/v1/payments?orderId=${order.id}`, { token: bob.accessToken }),
        404,
        5,
        "another's payments",
      );
      ok(await rest("GET", `/v1/payments/${payment.id}`, { token: ada.accessToken }), "own payment by id");
      expectError(
        await rest("GET", `/v1/payments/${payment.id}`, { token: bob.accessToken }),
        404,
        5,
        "another's payment",
      );
      paidOrder = order;
    },
  );

  await t.step("webhooks: the simulator's signed events pass the gateway; a forged one is 400", async () => {
    // Events are sent after the answer, in the background: wait (bounded) for the paid order's.
    let delivered: number | undefined;
    await eventually("the paid order's payment_intent.succeeded is delivered", async () => {
      const { events } = await simulatorState(stack);
      delivered = events.find((e) =>
        e.type === "payment_intent.succeeded" && e.payload.includes(paidOrder.id)
      )
        ?.status;
      return delivered === 200;
    }, { lastSeen: () => `delivery status ${delivered}` });
    assert.equal(delivered, 200, "payment_intent.succeeded for the paid order reached the payment service");
    const forged = await fetch(`${stack.url}/v1/webhooks/stripe`, {
      method: "POST",
      client: stack.client(),
      headers: { "stripe-signature": "t=1,v1=00", "content-type": "application/json" },
      body: JSON.stringify({ id: "evt_forged", type: "payment_intent.succeeded" }),
    });
    assert.equal(forged.status, 400);
    const error = await forged.json();
    assert.ok(error.code === 3 && typeof error.message === "string", JSON.stringify(error));
  });

  await t.step("cancelling a PAID order: CANCELLED, stock back, payment REFUNDED; again is 400", async () => {
    const [green] = products;
    assert.ok(green);
    const order = ok<{ order: Order }>(
      await placeOrder(rest, ada.accessToken, [{ productId: green.id, quantity: 3 }]),
      "order to cancel",
    ).order;
    assert.equal(order.status, "ORDER_STATUS_PAID");
    const before = await stockOf(rest, green.id);
    expectError(
      await rest("POST", `/v1/orders/${order.id}:cancel`, { token: bob.accessToken, body: {} }),
      404,
      5,
      "someone else cancels",
    );
    const cancelled = ok<{ order: Order }>(
      await rest("POST", `/v1/orders/${order.id}:cancel`, { token: ada.accessToken, body: {} }),
      "cancel",
    ).order;
    assert.equal(cancelled.status, "ORDER_STATUS_CANCELLED");
    assert.deepEqual(cancelled.statusHistory.map((h) => h.status).slice(-2), [
      "ORDER_STATUS_PAID",
      "ORDER_STATUS_CANCELLED",
    ]);
    assert.equal(await stockOf(rest, green.id), before + 3, "the committed stock is back");
    const [payment, ...others] = await paymentsOf(rest, ada.accessToken, order.id);
    assert.deepEqual(others, []);
    assert.equal(payment?.status, "PAYMENT_STATUS_REFUNDED", JSON.stringify(payment));
    assert.deepEqual(payment?.refundedAmount, order.total);
    assert.deepEqual(payment?.refunds.map((r) => r.amount), [order.total]);
    expectError(
      await rest("POST", `/v1/orders/${order.id}:cancel`, { token: ada.accessToken, body: {} }),
      400,
      9,
      "cancelling a cancelled order",
    );
  });

  await t.step("the admin moves an order PAID -> SHIPPED -> DELIVERED; illegal moves are 400", async () => {
    const id = paidOrder.id;
    const move = (status: string, token = asAdmin) =>
      rest("POST", `/v1/orders/${id}:updateStatus`, { token, body: { status } });
    expectError(await move("ORDER_STATUS_SHIPPED", ada.accessToken), 403, 7, "the owner ships");
    expectError(await move("ORDER_STATUS_DELIVERED"), 400, 9, "PAID -> DELIVERED skips SHIPPED");
    const shipped = ok<{ order: Order }>(await move("ORDER_STATUS_SHIPPED"), "ship").order;
    assert.equal(shipped.status, "ORDER_STATUS_SHIPPED");
    expectError(
      await rest("POST", `/v1/orders/${id}:cancel`, { token: ada.accessToken, body: {} }),
      400,
      9,
      "cancelling a shipped order",
    );
    const delivered = ok<{ order: Order }>(await move("ORDER_STATUS_DELIVERED"), "deliver").order;
    assert.equal(delivered.status, "ORDER_STATUS_DELIVERED");
    assert.deepEqual(delivered.statusHistory.map((h) => h.status).slice(-3), [
      "ORDER_STATUS_PAID",
      "ORDER_STATUS_SHIPPED",
      "ORDER_STATUS_DELIVERED",
    ]);
    expectError(await move("ORDER_STATUS_SHIPPED"), 400, 9, "DELIVERED -> SHIPPED");
    expectError(await move("ORDER_STATUS_PAID"), 400, 9, "setting PAID by hand");
  });

  await t.step("a declined card: FAILED with a reason, stock released, nothing charged", async () => {
    const [, oolong] = products;
    assert.ok(oolong);
    const before = await stockOf(rest, oolong.id);
    const { order } = ok<{ order: Order }>(
      await placeOrder(rest, ada.accessToken, [{ productId: oolong.id, quantity: 1 }], {
        paymentMethod: "pm_card_chargeDeclined",
      }),
      "declined order",
    );
    assert.equal(order.status, "ORDER_STATUS_FAILED");
    assert.match(order.failureReason, /declin/i);
    assert.equal(order.statusHistory.at(-1)?.status, "ORDER_STATUS_FAILED");
    assert.equal(await stockOf(rest, oolong.id), before, "the reservation is released");
    const payments = await paymentsOf(rest, ada.accessToken, order.id);
    assert.ok(payments.every((p) => p.status === "PAYMENT_STATUS_FAILED"), JSON.stringify(payments));
    assert.deepEqual((await intentsOf(stack, order.id)).filter((i) => i.status === "succeeded"), []);
  });

  await t.step("an order for more than the stock: FAILED out of stock, nothing charged", async () => {
    const [, , matcha] = products;
    assert.ok(matcha);
    const stock = await stockOf(rest, matcha.id);
    const { order } = ok<{ order: Order }>(
      await placeOrder(rest, ada.accessToken, [{ productId: matcha.id, quantity: stock + 1 }]),
      "too many",
    );
    assert.equal(order.status, "ORDER_STATUS_FAILED");
    assert.match(order.failureReason, /stock/i);
    assert.equal(await stockOf(rest, matcha.id), stock);
    assert.deepEqual(await paymentsOf(rest, ada.accessToken, order.id), []);
    assert.deepEqual(await intentsOf(stack, order.id), [], "Stripe never asked");
  });

  await t.step("the admin refunds part of a payment, then the rest; beyond what is left is 400", async () => {
    const [, , matcha] = products;
    assert.ok(matcha);
    const order = ok<{ order: Order }>(
      await placeOrder(rest, ada.accessToken, [{ productId: matcha.id, quantity: 1 }]),
      "order to refund",
    ).order;
    assert.equal(order.status, "ORDER_STATUS_PAID");
    const [payment] = await paymentsOf(rest, ada.accessToken, order.id);
    assert.ok(payment);
    const refund = (body: unknown, token = asAdmin) =>
      rest("POST", `/v1/payments/${payment.id}:refund`, { token, body });
    const usd = (amountMinor: string) => ({ currencyCode: "USD", amountMinor });

    expectError(await refund({ amount: usd("100") }, ada.accessToken), 403, 7, "the owner refunds");
    const partial = ok<{ payment: Payment }>(await refund({ amount: usd("1000") }), "partial refund").payment;
    assert.equal(partial.status, "PAYMENT_STATUS_PARTIALLY_REFUNDED");
    assert.deepEqual(partial.refundedAmount, usd("1000"));
    assert.deepEqual(partial.refunds.map((r) => r.amount), [usd("1000")]);
    for (const r of partial.refunds) assert.match(r.createTime, rfc3339);

    const beyond = await refund({ amount: usd("1501") });
    expectError(beyond, 400, 3, "a refund beyond what is left", "REFUND_EXCEEDS_PAYMENT");

    const remaining = ok<{ payment: Payment }>(await refund({}), "refund the rest").payment;
    assert.equal(remaining.status, "PAYMENT_STATUS_REFUNDED");
    assert.deepEqual(remaining.refundedAmount, usd("2500"));
    assert.deepEqual(remaining.refunds.map((r) => r.amount), [usd("1000"), usd("1500")]);
    expectError(await refund({ amount: usd("1") }), 400, 3, "a refund of a fully refunded payment");
  });

  await t.step("the same requestId sent 20 times at once: one order, one charge", async () => {
    const [green] = products;
    assert.ok(green);
    const carol = await signUp(rest, "carol");
    const before = await stockOf(rest, green.id);
    const requestId = `checkout-${crypto.randomUUID()}`;
    const replies = await Promise.all(
      Array.from(
        { length: 20 },
        () => placeOrder(rest, carol.accessToken, [{ productId: green.id, quantity: 1 }], { requestId }),
      ),
    );
    const orders = replies.map((r) => ok<{ order: Order }>(r, "a duplicate").order);
    assert.deepEqual([...new Set(orders.map((o) => o.id))].length, 1, "the same order every time");
    assert.deepEqual([...new Set(orders.map((o) => o.status))], ["ORDER_STATUS_PAID"]);
    const [order] = orders as [Order];
    const history =
      ok<{ orders: Order[] }>(await rest("GET", "/v1/orders", { token: carol.accessToken })).orders;
    assert.deepEqual(history.map((o) => o.id), [order.id], "one order in the history");
    assert.equal(await stockOf(rest, green.id), before - 1, "stock taken once");
    const payments = await paymentsOf(rest, carol.accessToken, order.id);
    assert.deepEqual(payments.map((p) => p.status), ["PAYMENT_STATUS_SUCCEEDED"]);
    const intents = await intentsOf(stack, order.id);
    assert.equal(intents.filter((i) => i.status === "succeeded").length, 1, JSON.stringify(intents));

    // The same requestId from another user is another order.
    const dave = await signUp(rest, "dave");
    const theirs = ok<{ order: Order }>(
      await placeOrder(rest, dave.accessToken, [{ productId: green.id, quantity: 1 }], { requestId }),
    ).order;
    assert.notEqual(theirs.id, order.id);
  });

  await t.step(
    "errors are JSON {code, message} with the HTTP status of their code, 404 and 429 too",
    async () => {
      expectError(await rest("GET", "/v1/nowhere"), 404, 5, "an unknown path");
      expectError(
        await rest("POST", "/shop.product.v1.InventoryService/ReserveStock", { token: asAdmin, body: {} }),
        404,
        5,
        "an internal service",
      );
      expectError(
        await rest("POST", "/v1/orders", { token: ada.accessToken, body: { requestId: "x", items: [] } }),
        400,
        3,
        "an order without items",
      );

      const strict = await stack.startGateway({
        limits: { signIn: { rate: 1, burst: 3 }, perUser: { rate: 1, burst: 3 } },
      });
      const limited = restClient(stack, { baseUrl: strict.url, localAddress: "127.0.0.7" });
      const logins = await Promise.all(
        Array.from(
          { length: 10 },
          () => limited("POST", "/v1/auth:login", { body: { email: ada.email, password: ada.password } }),
        ),
      );
      const refused = logins.filter((r) => r.status === 429);
      assert.ok(refused.length > 0, `sign-in statuses: ${logins.map((r) => r.status).join(",")}`);
      for (const reply of refused) {
        expectError(reply, 429, 8, "a sign-in over the limit");
        assert.ok(reply.headers.has("retry-after"));
      }
      const reads = await Promise.all(
        Array.from({ length: 10 }, () => limited("GET", "/v1/users/me", { token: bob.accessToken })),
      );
      const slowed = reads.filter((r) => r.status === 429);
      assert.ok(slowed.length > 0, `per-user statuses: ${reads.map((r) => r.status).join(",")}`);
      for (const reply of slowed) expectError(reply, 429, 8, "a user over the limit");
      ok(await rest("GET", "/v1/users/me", { token: bob.accessToken }), "the main gateway is not limited");
    },
  );
});
