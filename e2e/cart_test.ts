/**
 * The cart through the gateway (ARCHITECTURE.md section 7): signed-in customers only, one cart each, read
 * at the catalog's current prices and stock, checked out through the order service.
 */
import assert from "node:assert/strict";
import {
  address,
  createProduct,
  expectError,
  ok,
  type Order,
  type Rest,
  restClient,
  rfc3339,
  signIn,
  signUp,
} from "./rest.ts";
import { startStack } from "./stack.ts";

interface CartItem {
  productId: string;
  quantity: number;
  name: string;
  unitPrice?: { currencyCode: string; amountMinor: string };
  available: boolean;
}
interface Cart {
  items?: CartItem[];
  subtotal: { currencyCode: string; amountMinor: string };
  updateTime?: string;
}

async function cartOf(rest: Rest, token: string): Promise<Cart> {
  return ok<{ cart: Cart }>(await rest("GET", "/v1/cart", { token }), "get cart").cart;
}

function checkout(rest: Rest, token: string, requestId: string, paymentMethod = "pm_card_visa") {
  return rest("POST", "/v1/cart:checkout", {
    token,
    body: { requestId, shippingAddress: address, paymentMethod },
  });
}

Deno.test("the cart through the gateway", async (t) => {
  await using stack = await startStack({ label: "cart" });
  const rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const kettle = await createProduct(rest, admin.accessToken, {
    category: "cart",
    priceMinor: 1999,
    stock: 10,
  });
  const mug = await createProduct(rest, admin.accessToken, { category: "cart", priceMinor: 450, stock: 50 });

  await t.step("add, change, remove, and read with current prices", async () => {
    const ada = await signUp(rest, "ada");
    const token = ada.accessToken;
    assert.deepEqual((await cartOf(rest, token)).items ?? [], []);
    ok(await rest("POST", "/v1/cart/items", { token, body: { productId: kettle.id, quantity: 1 } }), "add");
    ok(await rest("POST", "/v1/cart/items", { token, body: { productId: kettle.id, quantity: 2 } }), "add");
    const { cart } = ok<{ cart: Cart }>(
      await rest("POST", "/v1/cart/items", { token, body: { productId: mug.id, quantity: 4 } }),
      "add",
    );
    const lines = Object.fromEntries((cart.items ?? []).map((i) => [i.productId, i]));
    assert.deepEqual(lines[kettle.id], {
      productId: kettle.id,
      quantity: 3,
      name: kettle.name,
      unitPrice: { currencyCode: "USD", amountMinor: "1999" },
      available: true,
    });
    assert.equal(cart.subtotal.amountMinor, String(3 * 1999 + 4 * 450));
    assert.match(cart.updateTime ?? "", rfc3339);

    // The catalog changes: the cart shows the new price, and a line beyond the stock is unavailable.
    ok(
      await rest("PATCH", `/v1/products/${kettle.id}?updateMask=price`, {
        token: admin.accessToken,
        body: { price: { currencyCode: "USD", amountMinor: "2100" } },
      }),
      "new price",
    );
    ok(
      await rest("POST", "/v1/cart:setQuantity", { token, body: { productId: mug.id, quantity: 51 } }),
      "set",
    );
    let read = await cartOf(rest, token);
    assert.equal(read.items?.find((i) => i.productId === kettle.id)?.unitPrice?.amountMinor, "2100");
    assert.equal(read.items?.find((i) => i.productId === mug.id)?.available, false, "51 wanted, 50 in stock");
    assert.equal(read.subtotal.amountMinor, String(3 * 2100), "an unavailable line is not in the subtotal");

    const { cart: changed } = ok<{ cart: Cart }>(
      await rest("POST", "/v1/cart:setQuantity", { token, body: { productId: mug.id, quantity: 0 } }),
      "remove",
    );
    assert.deepEqual(changed.items?.map((i) => [i.productId, i.quantity]), [[kettle.id, 3]]);
    assert.equal(changed.subtotal.amountMinor, String(3 * 2100));

    assert.deepEqual(ok(await rest("DELETE", "/v1/cart", { token }), "clear"), {});
    read = await cartOf(rest, token);
    assert.deepEqual(read.items ?? [], []);
  });

  await t.step("another customer's cart is invisible; no cart without signing in", async () => {
    const bea = await signUp(rest, "bea");
    const cy = await signUp(rest, "cy");
    ok(
      await rest("POST", "/v1/cart/items", {
        token: bea.accessToken,
        body: { productId: mug.id, quantity: 2 },
      }),
    );
    assert.deepEqual((await cartOf(rest, cy.accessToken)).items ?? [], []);
    expectError(await rest("GET", "/v1/cart"), 401, 16, "anonymous");
    assert.equal((await cartOf(rest, bea.accessToken)).items?.length, 1);
  });

  await t.step("bad input is INVALID_ARGUMENT naming the field, and writes nothing", async () => {
    const dee = await signUp(rest, "dee");
    const token = dee.accessToken;
    ok(await rest("POST", "/v1/cart/items", { token, body: { productId: mug.id, quantity: 95 } }));
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["/v1/cart/items", { productId: "no-such-product", quantity: 1 }, "product_id"],
      ["/v1/cart/items", { productId: mug.id, quantity: 0 }, "quantity"],
      ["/v1/cart/items", { productId: mug.id, quantity: 101 }, "quantity"],
      ["/v1/cart/items", { productId: mug.id, quantity: 6 }, "quantity"],
      ["/v1/cart:setQuantity", { productId: mug.id, quantity: -1 }, "quantity"],
    ];
    for (const [path, body, field] of cases) {
      const reply = await rest("POST", path, { token, body });
      expectError(reply, 400, 3, `${path} ${JSON.stringify(body)}`);
      assert.match(String(reply.body.message), new RegExp(field), JSON.stringify(reply.body));
    }
    assert.deepEqual((await cartOf(rest, token)).items?.map((i) => i.quantity), [95]);
  });

  await t.step("checkout makes one PAID order of the cart and empties it, even when sent twice", async () => {
    const eve = await signUp(rest, "eve");
    const token = eve.accessToken;
    ok(await rest("POST", "/v1/cart/items", { token, body: { productId: kettle.id, quantity: 2 } }));
    ok(await rest("POST", "/v1/cart/items", { token, body: { productId: mug.id, quantity: 1 } }));
    const requestId = crypto.randomUUID();
    const [first, second] = await Promise.all([
      checkout(rest, token, requestId),
      checkout(rest, token, requestId),
    ]);
    const a = ok<{ order: Order }>(first, "checkout").order;
    const b = ok<{ order: Order }>(second, "the same checkout again").order;
    assert.equal(a.status, "ORDER_STATUS_PAID");
    assert.equal(b.id, a.id);
    assert.deepEqual(
      a.items.map((i) => [i.productId, i.quantity]).sort(),
      [[kettle.id, 2], [mug.id, 1]].sort(),
    );
    assert.equal(a.total.amountMinor, String(2 * 2100 + 450));
    const { orders } = ok<{ orders: Order[] }>(await rest("GET", "/v1/orders", { token }), "orders");
    assert.equal(orders.length, 1);
    assert.deepEqual((await cartOf(rest, token)).items ?? [], []);
  });

  await t.step("a declined checkout keeps the cart as it was", async () => {
    const fay = await signUp(rest, "fay");
    const token = fay.accessToken;
    ok(await rest("POST", "/v1/cart/items", { token, body: { productId: mug.id, quantity: 3 } }));
    const { order } = ok<{ order: Order }>(
      await checkout(rest, token, crypto.randomUUID(), "pm_card_chargeDeclined"),
      "declined checkout",
    );
    assert.equal(order.status, "ORDER_STATUS_FAILED");
    assert.deepEqual((await cartOf(rest, token)).items?.map((i) => [i.productId, i.quantity]), [[mug.id, 3]]);
    expectError(
      await checkout(rest, (await signUp(rest, "gus")).accessToken, crypto.randomUUID()),
      400,
      9,
      "an empty cart",
    );
  });
});
