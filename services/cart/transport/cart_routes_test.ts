import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { gatewayClaims, inMemoryTransport } from "@shop/platform/server";
import { CartService } from "@shop/proto/cart";
import { type Order, OrderSchema, OrderStatus } from "@shop/proto/order";
import type { CatalogProduct } from "../domain/cart.ts";
import { Carts } from "../domain/carts.ts";
import type { OrderPlacer, OrderRequest } from "../domain/ports.ts";
import { MemoryCartStore } from "../store/memory_cart_store.ts";
import { cartRoutes } from "./cart_routes.ts";
import type { CheckoutDetails } from "./dependencies.ts";

const address = { name: "Alice", line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" };
const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });

/** Orders by (customer, request id), PAID unless the payment method is the declined card. */
class FakeOrders implements OrderPlacer<Order, CheckoutDetails> {
  readonly placed: Array<{ customerId: string; request: OrderRequest }> = [];
  readonly #byRequest = new Map<string, Order>();
  placeOrder(customerId: string, request: OrderRequest, details: CheckoutDetails) {
    this.placed.push({ customerId, request });
    const key = `${customerId}/${request.requestId}`;
    let order = this.#byRequest.get(key);
    if (!order) {
      const declined = details.paymentMethod === "pm_card_chargeDeclined";
      order = create(OrderSchema, {
        id: crypto.randomUUID(),
        userId: customerId,
        status: declined ? OrderStatus.FAILED : OrderStatus.PAID,
        items: request.items.map((item) => ({ productId: item.productId, quantity: item.quantity })),
      });
      this.#byRequest.set(key, order);
    }
    const status = order.status === OrderStatus.PAID ? "paid" as const : "failed" as const;
    return Promise.resolve({ status, order });
  }
}

function setup() {
  const products = new Map<string, CatalogProduct>([
    ["kettle", { id: "kettle", name: "Kettle", price: usd(1999n), stock: 5 }],
    ["mug", { id: "mug", name: "Mug", price: usd(450n), stock: 100 }],
  ]);
  for (let i = 0; i < 101; i++) {
    products.set(`p-${i}`, { id: `p-${i}`, name: `P ${i}`, price: usd(100n), stock: 1000 });
  }
  const orders = new FakeOrders();
  const carts = new Carts({
    store: new MemoryCartStore(),
    catalog: { product: (id) => Promise.resolve(products.get(id)) },
    orders,
  });
  const client = createClient(CartService, inMemoryTransport(cartRoutes(carts)));
  return { products, orders, client };
}

const as = (sub: string) => ({ headers: gatewayClaims({ sub, role: "customer" }) });

async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  return await call.then(() => assert.fail("expected a refusal"), (error) => ConnectError.from(error));
}

Deno.test("add, change and remove lines; the cart shows current names, prices, stock and the subtotal", async () => {
  const { client, products } = setup();
  const alice = as(crypto.randomUUID());
  await client.addItem({ productId: "kettle", quantity: 1 }, alice);
  await client.addItem({ productId: "kettle", quantity: 1 }, alice);
  let { cart } = await client.addItem({ productId: "mug", quantity: 3 }, alice);
  assert.deepEqual(
    cart?.items.map((i) => [i.productId, i.quantity, i.name, i.unitPrice?.amountMinor, i.available]),
    [
      ["kettle", 2, "Kettle", 1999n, true],
      ["mug", 3, "Mug", 450n, true],
    ],
  );
  assert.equal(cart?.subtotal?.amountMinor, 2n * 1999n + 3n * 450n);
  assert.ok(cart?.updateTime);

  products.set("kettle", { id: "kettle", name: "Kettle Pro", price: usd(2499n), stock: 1 });
  products.delete("mug");
  ({ cart } = await client.getCart({}, alice));
  assert.deepEqual(cart?.items.map((i) => [i.name, i.unitPrice?.amountMinor, i.available]), [
    ["Kettle Pro", 2499n, false], // 2 wanted, 1 in stock
    ["", undefined, false], // gone
  ]);
  assert.equal(cart?.subtotal?.amountMinor, 0n);

  ({ cart } = await client.setQuantity({ productId: "kettle", quantity: 1 }, alice));
  assert.equal(cart?.items[0]?.available, true);
  ({ cart } = await client.setQuantity({ productId: "mug", quantity: 0 }, alice));
  assert.deepEqual(cart?.items.map((i) => i.productId), ["kettle"]);
  await client.clearCart({}, alice);
  ({ cart } = await client.getCart({}, alice));
  assert.deepEqual(cart?.items, []);
  assert.equal(cart?.updateTime, undefined);
});

Deno.test("another customer's cart is invisible, and no call without a user reaches any cart", async () => {
  const { client } = setup();
  const alice = as(crypto.randomUUID());
  await client.addItem({ productId: "kettle", quantity: 1 }, alice);
  const { cart } = await client.getCart({}, as(crypto.randomUUID()));
  assert.deepEqual(cart?.items, []);
  assert.equal((await refusal(client.getCart({}))).code, Code.Unauthenticated);
  assert.equal(
    (await refusal(client.addItem({ productId: "kettle", quantity: 1 }))).code,
    Code.Unauthenticated,
  );
});

Deno.test("bad input is INVALID_ARGUMENT naming the field, and nothing is written", async () => {
  const { client } = setup();
  const alice = as(crypto.randomUUID());
  await client.addItem({ productId: "kettle", quantity: 90 }, alice);
  const cases: Array<[Promise<unknown>, string]> = [
    [client.addItem({ productId: "nope", quantity: 1 }, alice), "product_id"],
    [client.addItem({ productId: "kettle", quantity: 0 }, alice), "quantity"],
    [client.addItem({ productId: "kettle", quantity: 101 }, alice), "quantity"],
    [client.addItem({ productId: "kettle", quantity: 11 }, alice), "quantity"], // 90 + 11 > 100
    [client.setQuantity({ productId: "kettle", quantity: -1 }, alice), "quantity"],
    [client.setQuantity({ productId: "nope", quantity: 1 }, alice), "product_id"],
  ];
  for (const [call, field] of cases) {
    const error = await refusal(call);
    assert.equal(error.code, Code.InvalidArgument, error.message);
    assert.match(error.rawMessage, new RegExp(field));
  }
  const { cart } = await client.getCart({}, alice);
  assert.deepEqual(cart?.items.map((i) => [i.productId, i.quantity]), [["kettle", 90]]);
});

Deno.test("a 101st line is INVALID_ARGUMENT naming product_id, and nothing is written", async () => {
  const { client } = setup();
  const bob = as(crypto.randomUUID());
  for (let i = 0; i < 100; i++) await client.addItem({ productId: `p-${i}`, quantity: 1 }, bob);
  const error = await refusal(client.addItem({ productId: "p-100", quantity: 1 }, bob));
  assert.equal(error.code, Code.InvalidArgument);
  assert.match(error.rawMessage, /product_id/);
  const { cart } = await client.getCart({}, bob);
  assert.equal(cart?.items.length, 100);
  assert.ok(!cart?.items.some((i) => i.productId === "p-100"));
});

Deno.test("checkout places the cart's lines with the request id and empties the cart once PAID", async () => {
  const { client, orders } = setup();
  const id = crypto.randomUUID();
  await client.addItem({ productId: "kettle", quantity: 2 }, as(id));
  const requestId = crypto.randomUUID();
  const [first, second] = await Promise.all([
    client.checkout({ requestId, shippingAddress: address, paymentMethod: "pm_card_visa" }, as(id)),
    client.checkout({ requestId, shippingAddress: address, paymentMethod: "pm_card_visa" }, as(id)),
  ]);
  assert.equal(first.order?.status, OrderStatus.PAID);
  assert.equal(second.order?.id, first.order?.id);
  assert.deepEqual(orders.placed[0], {
    customerId: id,
    request: { requestId, items: [{ productId: "kettle", quantity: 2 }] },
  });
  assert.deepEqual((await client.getCart({}, as(id))).cart?.items, []);
});

Deno.test("a checkout repeated after it emptied the cart answers the same order and leaves the new cart", async () => {
  const { client, orders } = setup();
  const id = crypto.randomUUID();
  await client.addItem({ productId: "kettle", quantity: 2 }, as(id));
  const request = { requestId: crypto.randomUUID(), shippingAddress: address, paymentMethod: "pm_card_visa" };
  const first = await client.checkout(request, as(id));
  assert.equal(first.order?.status, OrderStatus.PAID);
  // The customer fills the cart again; then the first checkout's retry arrives (its answer was lost).
  await client.addItem({ productId: "mug", quantity: 1 }, as(id));
  const retry = await client.checkout(request, as(id));
  assert.equal(retry.order?.id, first.order?.id, "the same order");
  assert.deepEqual(orders.placed.map((p) => p.request.items), [
    [{ productId: "kettle", quantity: 2 }],
    [{ productId: "kettle", quantity: 2 }],
  ]);
  assert.deepEqual((await client.getCart({}, as(id))).cart?.items.map((i) => [i.productId, i.quantity]), [
    ["mug", 1],
  ]);
  const elsewhere = await refusal(client.checkout(request, as(crypto.randomUUID())));
  assert.equal(elsewhere.code, Code.FailedPrecondition, "another customer's empty cart, same request id");
});

Deno.test("a declined checkout leaves the cart as it was; an empty cart cannot check out", async () => {
  const { client } = setup();
  const id = crypto.randomUUID();
  await client.addItem({ productId: "mug", quantity: 3 }, as(id));
  const { order } = await client.checkout(
    { requestId: crypto.randomUUID(), shippingAddress: address, paymentMethod: "pm_card_chargeDeclined" },
    as(id),
  );
  assert.equal(order?.status, OrderStatus.FAILED);
  assert.deepEqual((await client.getCart({}, as(id))).cart?.items.map((i) => i.quantity), [3]);

  const empty = await refusal(
    client.checkout(
      { requestId: "r-1", shippingAddress: address, paymentMethod: "pm_card_visa" },
      as(crypto.randomUUID()),
    ),
  );
  assert.equal(empty.code, Code.FailedPrecondition);
});
