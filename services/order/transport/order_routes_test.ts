import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { DomainError } from "@shop/platform/errors";
import { gatewayClaims, inMemoryTransport, toConnectError } from "@shop/platform/server";
import { OrderService, OrderStatus } from "@shop/proto/order";
import { Checkout, type CheckoutDeps, type FaultPoint } from "../domain/checkout.ts";
import { MemoryOrderStore } from "../store/memory_order_store.ts";
import { realServices } from "../testdata/real_services.ts";
import { inventoryOverConnect } from "./inventory_client.ts";
import { orderRoutes } from "./order_routes.ts";
import { paymentsOverConnect } from "./payment_client.ts";
import { failure } from "@shop/platform/testing";

const alice = crypto.randomUUID();
const bob = crypto.randomUUID();
const admin = crypto.randomUUID();
const as = (sub: string, role: "customer" | "admin" = "customer") => ({
  headers: gatewayClaims({ sub, role }),
});

const address = { name: "Alice", line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" };

/** The order service over the real product and payment services (memory stores, a fake Stripe). */
async function setup(overrides: Partial<CheckoutDeps> = {}) {
  const services = await realServices({
    Kettle: { priceMinor: 1999n, stock: 5 },
    Mug: { priceMinor: 450n, stock: 100 },
  });
  const store = new MemoryOrderStore();
  const checkout = new Checkout({
    store,
    inventory: inventoryOverConnect(services.inventory),
    payments: paymentsOverConnect(services.paymentProcessor),
    instanceId: "test",
    sagaBudgetMs: 1_000,
    ...overrides,
  });
  const orders = createClient(OrderService, inMemoryTransport(orderRoutes(checkout)));
  return { services, ids: services.ids, store, checkout, orders };
}

function placeRequest(
  items: Array<{ productId: string; quantity: number }>,
  extra: Record<string, string> = {},
) {
  return {
    requestId: crypto.randomUUID(),
    items,
    shippingAddress: address,
    paymentMethod: "pm_card_visa",
    ...extra,
  };
}

Deno.test("CreateOrder comes back PAID with catalog prices, stock taken and one charge", async () => {
  const { orders, services, ids } = await setup();
  const { order } = await orders.createOrder(
    placeRequest([{ productId: ids.Kettle, quantity: 2 }, { productId: ids.Mug, quantity: 1 }]),
    as(alice),
  );
  assert.equal(order?.status, OrderStatus.PAID);
  assert.deepEqual(order?.items.map((i) => [i.name, i.unitPrice?.amountMinor, i.quantity]), [[
    "Kettle",
    1999n,
    2,
  ], ["Mug", 450n, 1]]);
  assert.deepEqual(order?.total, {
    $typeName: "shop.common.v1.Money",
    currencyCode: "USD",
    amountMinor: 4448n,
  });
  assert.deepEqual(order?.statusHistory.map((s) => s.status), [OrderStatus.PENDING, OrderStatus.PAID]);
  assert.equal(await services.stockOf("Kettle"), 3);
  assert.equal(services.stripe.intents.size, 1);
  assert.equal(services.netCharged(), 4448n);
});

Deno.test("20 concurrent CreateOrder calls with one request id make one order and one charge", async () => {
  const { orders, services, ids } = await setup();
  const request = placeRequest([{ productId: ids.Kettle, quantity: 1 }]);
  const results = await Promise.all(Array.from({ length: 20 }, () => orders.createOrder(request, as(alice))));
  const orderIds = new Set(results.map((r) => r.order?.id));
  assert.equal(orderIds.size, 1);
  assert.ok(results.every((r) => r.order?.status === OrderStatus.PAID));
  assert.equal(services.stripe.intents.size, 1);
  assert.equal(await services.stockOf("Kettle"), 4);
});

Deno.test("an order for more than the stock FAILS as out of stock and charges nothing", async () => {
  const { orders, services, ids } = await setup();
  const { order } = await orders.createOrder(
    placeRequest([{ productId: ids.Kettle, quantity: 6 }]),
    as(alice),
  );
  assert.equal(order?.status, OrderStatus.FAILED);
  assert.match(order?.failureReason ?? "", /not enough stock/);
  assert.equal(services.paymentSwitch.callsOf("Charge"), 0);
  assert.equal(await services.stockOf("Kettle"), 5);
});

Deno.test("a declined payment FAILS the order and returns its stock", async () => {
  const { orders, services, ids } = await setup();
  const { order } = await orders.createOrder(
    placeRequest([{ productId: ids.Kettle, quantity: 2 }], { paymentMethod: "pm_card_chargeDeclined" }),
    as(alice),
  );
  assert.equal(order?.status, OrderStatus.FAILED);
  assert.match(order?.failureReason ?? "", /^payment declined: [^:]*declined/i);
  assert.doesNotMatch(order?.failureReason ?? "", /payment declined: payment declined/i);
  assert.equal(await services.stockOf("Kettle"), 5);
  assert.equal(services.netCharged(), 0n);
});

Deno.test("a product service that stays down FAILS the order within the saga's budget", async () => {
  const { orders, services, ids } = await setup();
  services.productSwitch.down = true;
  const { order } = await orders.createOrder(
    placeRequest([{ productId: ids.Kettle, quantity: 1 }]),
    as(alice),
  );
  assert.equal(order?.status, OrderStatus.FAILED);
  assert.match(order?.failureReason ?? "", /could not reach the stock service/);
  assert.equal(services.paymentSwitch.callsOf("Charge"), 0);
});

Deno.test("a charge the payment service refuses for another reason than a decline FAILS at once with that reason", async () => {
  // Budget far beyond the test: were the refusal retried, the call would not come back in time.
  const { orders, services, ids } = await setup({ sagaBudgetMs: 60_000 });
  services.paymentSwitch.failing = ["Charge"];
  services.paymentSwitch.failWith = toConnectError(
    new DomainError(
      "failed_precondition",
      "INVALID_STATE",
      "order o-1 was charged before with a different amount or customer",
    ),
  );
  const { order } = await orders.createOrder(
    placeRequest([{ productId: ids.Kettle, quantity: 1 }]),
    { ...as(alice), timeoutMs: 5_000 },
  );
  assert.equal(order?.status, OrderStatus.FAILED);
  assert.equal(
    order?.failureReason,
    "the payment service refused the checkout: order o-1 was charged before with a different amount or customer",
  );
  assert.equal(services.paymentSwitch.callsOf("Charge"), 1, "a final refusal is not retried");
  assert.equal(await services.stockOf("Kettle"), 5);
});

Deno.test("a stock service that refuses the order service FAILS the order at once with its reason, untried again", async () => {
  const { orders, services, ids } = await setup({ sagaBudgetMs: 60_000 });
  services.productSwitch.failWith = toConnectError(
    new DomainError("permission_denied", "PERMISSION_DENIED", "only the order service may reserve stock"),
  );
  const { order } = await orders.createOrder(
    placeRequest([{ productId: ids.Kettle, quantity: 1 }]),
    { ...as(alice), timeoutMs: 5_000 },
  );
  assert.equal(order?.status, OrderStatus.FAILED);
  assert.equal(
    order?.failureReason,
    "the stock service refused the checkout: only the order service may reserve stock",
  );
  assert.equal(services.paymentSwitch.callsOf("Charge"), 0);
});

Deno.test("a stock service that is overloaded for a moment is tried again and the order is PAID", async () => {
  const { orders, services, ids } = await setup();
  services.productSwitch.failWith = new ConnectError("too many requests in flight", Code.ResourceExhausted);
  setTimeout(() => services.productSwitch.failWith = undefined, 300);
  const { order } = await orders.createOrder(
    placeRequest([{ productId: ids.Kettle, quantity: 1 }]),
    as(alice),
  );
  assert.equal(order?.status, OrderStatus.PAID);
  assert.ok(services.productSwitch.callsOf("ReserveStock") > 2, "the reservation was retried");
});

Deno.test("the caller's deadline bounds the checkout: a payment that hangs FAILS the order before the caller gives up", async () => {
  const { orders, checkout, services, ids } = await setup({ sagaBudgetMs: 60_000 });
  services.paymentSwitch.failing = ["Charge"];
  services.paymentSwitch.hang = true;
  // The caller waits 1.5 s; the saga's own budget (60 s) would let the charge run for 12 s.
  const { order } = await orders.createOrder(
    placeRequest([{ productId: ids.Kettle, quantity: 2 }]),
    { ...as(alice), timeoutMs: 1_500 },
  );
  assert.equal(order?.status, OrderStatus.FAILED);
  assert.match(order?.failureReason ?? "", /could not reach the payment service/);
  services.paymentSwitch.hang = false;
  // Compensation that ran out of time with the caller is finished by the recovery loop.
  await checkout.recoverStalled();
  assert.equal(await services.stockOf("Kettle"), 5);
  assert.equal(services.netCharged(), 0n);
});

Deno.test("cancelling a PAID order refunds it and returns the stock; a SHIPPED one cannot be cancelled", async () => {
  const { orders, services, ids } = await setup();
  const { order } = await orders.createOrder(
    placeRequest([{ productId: ids.Kettle, quantity: 2 }]),
    as(alice),
  );
  const id = order?.id ?? "";
  const cancelled = await orders.cancelOrder({ id, reason: "changed my mind" }, as(alice));
  assert.equal(cancelled.order?.status, OrderStatus.CANCELLED);
  assert.equal(await services.stockOf("Kettle"), 5);
  assert.equal(services.netCharged(), 0n);

  const second =
    (await orders.createOrder(placeRequest([{ productId: ids.Mug, quantity: 1 }]), as(alice))).order;
  await orders.updateOrderStatus({ id: second?.id ?? "", status: OrderStatus.SHIPPED }, as(admin, "admin"));
  const tooLate = await failure(orders.cancelOrder({ id: second?.id ?? "" }, as(alice)));
  assert.equal(tooLate.code, Code.FailedPrecondition);
  assert.match(tooLate.rawMessage, /SHIPPED.*CANCELLED/);
});

Deno.test("another user's order is NOT_FOUND; its owner and admins see it", async () => {
  const { orders, ids } = await setup();
  const { order } = await orders.createOrder(placeRequest([{ productId: ids.Mug, quantity: 1 }]), as(alice));
  const id = order?.id ?? "";
  assert.equal((await orders.getOrder({ id }, as(alice))).order?.id, id);
  assert.equal((await orders.getOrder({ id }, as(admin, "admin"))).order?.id, id);
  assert.equal((await failure(orders.getOrder({ id }, as(bob)))).code, Code.NotFound);
  assert.equal((await failure(orders.cancelOrder({ id }, as(bob)))).code, Code.NotFound);
  assert.equal((await failure(orders.getOrder({ id }))).code, Code.Unauthenticated);
});

Deno.test("ListOrders pages the caller's orders newest first; admins see all or one user's", async () => {
  const { orders, ids } = await setup();
  const mine: string[] = [];
  for (let i = 0; i < 3; i++) {
    mine.push(
      (await orders.createOrder(placeRequest([{ productId: ids.Mug, quantity: 1 }]), as(alice))).order?.id ??
        "",
    );
    await orders.createOrder(placeRequest([{ productId: ids.Mug, quantity: 1 }]), as(bob));
  }
  const seen: string[] = [];
  let pageToken = "";
  do {
    const page = await orders.listOrders({ pageSize: 2, pageToken }, as(alice));
    seen.push(...page.orders.map((o) => o.id));
    pageToken = page.nextPageToken;
  } while (pageToken);
  assert.deepEqual(seen, [...mine].reverse());
  assert.equal((await orders.listOrders({ pageSize: 100 }, as(admin, "admin"))).orders.length, 6);
  assert.equal((await orders.listOrders({ userId: alice }, as(admin, "admin"))).orders.length, 3);
  assert.equal((await failure(orders.listOrders({ userId: bob }, as(alice)))).code, Code.PermissionDenied);
  assert.equal(
    (await failure(orders.listOrders({ pageToken: "eyJ0IjoxLCJpZCI6IngifQ" }, as(alice)))).code,
    Code.InvalidArgument,
  );
});

Deno.test("UpdateOrderStatus is admin only and follows PAID -> SHIPPED -> DELIVERED", async () => {
  const { orders, ids } = await setup();
  const { order } = await orders.createOrder(placeRequest([{ productId: ids.Mug, quantity: 1 }]), as(alice));
  const id = order?.id ?? "";
  assert.equal(
    (await failure(orders.updateOrderStatus({ id, status: OrderStatus.SHIPPED }, as(alice)))).code,
    Code.PermissionDenied,
  );
  const skip = await failure(
    orders.updateOrderStatus({ id, status: OrderStatus.DELIVERED }, as(admin, "admin")),
  );
  assert.equal(skip.code, Code.FailedPrecondition);
  assert.match(skip.rawMessage, /PAID.*DELIVERED/);
  assert.equal(
    (await orders.updateOrderStatus({ id, status: OrderStatus.SHIPPED }, as(admin, "admin"))).order?.status,
    OrderStatus.SHIPPED,
  );
  const delivered = await orders.updateOrderStatus({ id, status: OrderStatus.DELIVERED }, as(admin, "admin"));
  assert.deepEqual(delivered.order?.statusHistory.map((s) => s.status), [
    OrderStatus.PENDING,
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
  ]);
  const byHand = await failure(
    orders.updateOrderStatus({ id, status: OrderStatus.PAID }, as(admin, "admin")),
  );
  assert.equal(byHand.code, Code.FailedPrecondition);
});

Deno.test("bad place-order input is INVALID_ARGUMENT naming the field, and no order is made", async () => {
  const { orders, store, ids } = await setup();
  const twice = await failure(
    orders.createOrder(
      placeRequest([{ productId: ids.Mug, quantity: 1 }, { productId: ids.Mug, quantity: 2 }]),
      as(alice),
    ),
  );
  assert.equal(twice.code, Code.InvalidArgument);
  assert.match(twice.rawMessage, /items\[1\]\.product_id/);
  const noItems = await failure(orders.createOrder(placeRequest([]), as(alice)));
  assert.equal(noItems.code, Code.InvalidArgument);
  const injected = await failure(
    orders.createOrder(placeRequest([{ productId: '{"$ne":1}', quantity: 1 }]), as(alice)),
  );
  assert.equal(injected.code, Code.InvalidArgument);
  assert.equal((await store.listOrders(undefined, 10, undefined)).orders.length, 0);
});

for (const point of ["reserved", "charged", "committed"] as const) {
  Deno.test(`a checkout interrupted after it ${point} converges when the recovery loop resumes it`, async () => {
    class Crash extends Error {}
    let crashAt: FaultPoint | undefined = point;
    const { orders, checkout, store, services, ids } = await setup({
      faultAfter: (at) => {
        if (at === crashAt) {
          crashAt = undefined;
          throw new Crash(at);
        }
      },
      leaseMs: 1,
    });
    await failure(orders.createOrder(placeRequest([{ productId: ids.Kettle, quantity: 2 }]), as(alice)));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await checkout.recoverStalled(), point === "committed" ? 0 : 1);
    const [order] = (await store.listOrders(undefined, 10, undefined)).orders;
    assert.equal(order?.status, "paid");
    assert.equal(await services.stockOf("Kettle"), 3);
    assert.equal(services.stripe.intents.size, 1);
    assert.equal(services.netCharged(), 3998n);
  });
}
