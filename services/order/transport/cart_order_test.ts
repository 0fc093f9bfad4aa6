import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { gatewayClaims, inMemoryTransport } from "@shop/platform/server";
import { CartOrderService, OrderService, OrderStatus } from "@shop/proto/order";
import { Checkout } from "../domain/checkout.ts";
import { MemoryOrderStore } from "../store/memory_order_store.ts";
import { realServices } from "../testdata/real_services.ts";
import { inventoryOverConnect } from "./inventory_client.ts";
import { orderAllowedPeers, orderRoutes } from "./order_routes.ts";
import { paymentsOverConnect } from "./payment_client.ts";

const address = { name: "Alice", line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" };

async function setup() {
  const services = await realServices({ Kettle: { priceMinor: 1999n, stock: 5 } });
  const checkout = new Checkout({
    store: new MemoryOrderStore(),
    inventory: inventoryOverConnect(services.inventory),
    payments: paymentsOverConnect(services.paymentProcessor),
    instanceId: "test",
    sagaBudgetMs: 1_000,
  });
  const routes = orderRoutes(checkout);
  const as = (peer: string) =>
    createClient(CartOrderService, inMemoryTransport(routes, { peer, allowedPeers: orderAllowedPeers }));
  const request = (userId: string, requestId: string) => ({
    userId,
    order: {
      requestId,
      items: [{ productId: services.ids.Kettle, quantity: 2 }],
      shippingAddress: address,
      paymentMethod: "pm_card_visa",
    },
  });
  return { routes, services, as, request };
}

Deno.test("the cart places a customer's order, which is that customer's and deduplicated by request id", async () => {
  const { routes, services, as, request } = await setup();
  const alice = crypto.randomUUID();
  const requestId = crypto.randomUUID();
  const [first, second] = await Promise.all([
    as("cart").createCartOrder(request(alice, requestId)),
    as("cart").createCartOrder(request(alice, requestId)),
  ]);
  assert.equal(first.order?.status, OrderStatus.PAID);
  assert.equal(first.order?.userId, alice);
  assert.equal(second.order?.id, first.order?.id);
  assert.equal(services.stripe.intents.size, 1);
  // Alice sees it as her own through the gateway.
  const orders = createClient(OrderService, inMemoryTransport(routes));
  const { order } = await orders.getOrder({ id: first.order?.id ?? "" }, {
    headers: gatewayClaims({ sub: alice, role: "customer" }),
  });
  assert.equal(order?.id, first.order?.id);
});

Deno.test("only the cart's certificate may place orders for a customer", async () => {
  const { as, request } = await setup();
  for (const peer of ["gateway", "payment", "product", "user"]) {
    const refused = await as(peer).createCartOrder(request(crypto.randomUUID(), crypto.randomUUID())).then(
      () => assert.fail(`${peer} must not place orders for a customer`),
      (error) => ConnectError.from(error),
    );
    assert.equal(refused.code, Code.PermissionDenied, peer);
  }
});
