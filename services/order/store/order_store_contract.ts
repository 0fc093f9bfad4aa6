/**
 * The one contract every {@linkcode OrderStore} adapter must meet; each adapter's test file runs it.
 *
 * @module
 */
import { contractTest, type StoreFixture as KitStoreFixture } from "@shop/platform/testing";
import assert from "node:assert/strict";
import type { UnpricedOrder } from "../domain/order.ts";
import type { OrderEventDraft } from "../domain/order_events.ts";
import type { Lease, OrderRecord, OrderStore, SagaState } from "../domain/ports.ts";

/** A fresh, empty store for one test, and how to throw it away. */
export type StoreFixture = KitStoreFixture<OrderStore>;

let clock = Date.parse("2026-03-01T00:00:00Z");
function tick(): Date {
  clock += 1000;
  return new Date(clock);
}

function lease(owner: string, until = new Date(clock + 30_000)): Lease {
  return { owner, until };
}

/** A pending order as the checkout creates it. */
export function newOrder(
  overrides: Partial<Omit<UnpricedOrder & SagaState, "items" | "total">> = {},
): UnpricedOrder & SagaState {
  const now = tick();
  return {
    id: crypto.randomUUID(),
    userId: crypto.randomUUID(),
    requestId: crypto.randomUUID(),
    items: [{ productId: "p-1", quantity: 2 }],
    total: undefined,
    status: "pending",
    statusHistory: [{ status: "pending", reason: "order placed", time: now }],
    failureReason: "",
    shippingAddress: {
      name: "Ada",
      line1: "1 Main St",
      line2: "",
      city: "Berlin",
      postalCode: "10115",
      country: "DE",
    },
    paymentMethod: "pm_card_visa",
    createTime: now,
    updateTime: now,
    sagaStep: "reserve",
    chargeAttempted: false,
    announcedChanges: 0,
    ...overrides,
  };
}

/**
 * Registers the contract's tests for one adapter.
 *
 * @example
 * ```ts
 * import { MemoryOrderStore } from "./memory_order_store.ts";
 * orderStoreContract("MemoryOrderStore", () => Promise.resolve({ store: new MemoryOrderStore(), cleanup: async () => {} }));
 * ```
 */
export function orderStoreContract(name: string, fixture: () => Promise<StoreFixture>): void {
  const test = contractTest(name, fixture);

  test("an order round-trips with its priced items, total and history", async (store) => {
    const order = newOrder();
    assert.deepEqual(await store.insertOrder(order, lease("a")), { created: true });
    assert.deepEqual(await store.findOrder(order.id), order);
    const later = tick();
    const priced: OrderRecord = {
      ...order,
      items: [{
        productId: "p-1",
        quantity: 2,
        name: "Kettle",
        unitPrice: { currencyCode: "USD", amountMinor: 9_007_199_254_740_993n },
      }],
      total: { currencyCode: "USD", amountMinor: 18_014_398_509_481_986n },
      statusHistory: [...order.statusHistory, { status: "failed", reason: "payment declined", time: later }],
      status: "failed",
      failureReason: "payment declined",
      sagaStep: "compensate",
      chargeAttempted: true,
      updateTime: later,
    };
    assert.equal(await store.saveProgress(priced, lease("a")), true);
    assert.deepEqual(await store.findOrder(order.id), priced);
    assert.equal(await store.findOrder(crypto.randomUUID()), undefined);
  });

  test("a second order with the same user and request id returns the first and stores nothing", async (store) => {
    const first = newOrder();
    await store.insertOrder(first, lease("a"));
    const again = newOrder({ userId: first.userId, requestId: first.requestId });
    const outcome = await store.insertOrder(again, lease("b"));
    assert.deepEqual(outcome, { created: false, existing: first });
    assert.equal(await store.findOrder(again.id), undefined);
    // Another user may use the same request id.
    assert.deepEqual(await store.insertOrder(newOrder({ requestId: first.requestId }), lease("c")), {
      created: true,
    });
  });

  test("of concurrent orders with one request id exactly one is created", async (store) => {
    const userId = crypto.randomUUID();
    const outcomes = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => store.insertOrder(newOrder({ userId, requestId: "same" }), lease(`o${i}`)),
      ),
    );
    assert.equal(outcomes.filter((o) => o.created).length, 1);
    const ids = new Set(outcomes.map((o) => o.created ? "created" : o.existing.id));
    assert.equal(ids.size, 2, "every duplicate sees the same existing order");
  });

  test("only the lease holder saves progress; a lease is claimed only when free or expired", async (store) => {
    const order = newOrder();
    await store.insertOrder(order, lease("a"));
    assert.equal(await store.saveProgress({ ...order, sagaStep: "charge" }, lease("b")), false);
    assert.equal(await store.claim(order.id, lease("b"), tick()), undefined);
    await store.releaseLease(order.id, "b"); // not b's: no effect
    assert.equal(await store.claim(order.id, lease("b"), tick()), undefined);
    await store.releaseLease(order.id, "a");
    const claimed = await store.claim(order.id, lease("b"), tick());
    assert.equal(claimed?.id, order.id);
    assert.equal(await store.saveProgress({ ...order, sagaStep: "charge" }, lease("b")), true);
    assert.equal(await store.saveProgress({ ...order, sagaStep: "commit" }, lease("a")), false);
    assert.equal((await store.findOrder(order.id))?.sagaStep, "charge");
  });

  test("a save with releaseLease stores the progress and gives the lease up in the same write", async (store) => {
    const order = newOrder();
    await store.insertOrder(order, lease("a"));
    const done = { ...order, sagaStep: "done" as const };
    assert.equal(
      await store.saveProgress(done, lease("a"), [event(order.id, "paid")], { releaseLease: true }),
      true,
    );
    assert.equal((await store.findOrder(order.id))?.sagaStep, "done");
    assert.equal((await store.claim(order.id, lease("b"), tick()))?.id, order.id, "free at once");
    assert.equal(await store.saveProgress(done, lease("a"), [], { releaseLease: true }), false);
    const [announced] = await store.claimOrderEvents(tick(), tick(), 10);
    assert.equal(announced?.status, "paid");
  });

  test("claimStalled() takes unfinished sagas whose lease expired, each by one claimer", async (store) => {
    const now = tick();
    const expired = new Date(now.getTime() - 1);
    const stalled = [
      newOrder(),
      newOrder({ sagaStep: "compensate", status: "failed" }),
      newOrder({ sagaStep: "commit" }),
    ];
    for (const order of stalled) await store.insertOrder(order, lease("dead", expired));
    await store.insertOrder(newOrder({ sagaStep: "done", status: "paid" }), lease("dead", expired));
    await store.insertOrder(newOrder(), lease("alive", new Date(now.getTime() + 60_000)));

    const [a, b] = await Promise.all([
      store.claimStalled(lease("x"), now, 10),
      store.claimStalled(lease("y"), now, 10),
    ]);
    const claimed = [...a, ...b].map((o) => o.id).sort();
    assert.deepEqual(claimed, stalled.map((o) => o.id).sort());
    assert.deepEqual(await store.claimStalled(lease("z"), now, 10), []);
  });

  test("listOrders() pages newest first, per user or for everyone, each order once", async (store) => {
    const userId = crypto.randomUUID();
    const mine: OrderRecord[] = [];
    for (let i = 0; i < 5; i++) {
      const order = newOrder({ userId });
      mine.push(order);
      await store.insertOrder(order, lease("a"));
      await store.insertOrder(newOrder(), lease("a"));
    }
    const seen: string[] = [];
    let page = await store.listOrders(userId, 2, undefined);
    seen.push(...page.orders.map((o) => o.id));
    while (page.next) {
      page = await store.listOrders(userId, 2, page.next);
      seen.push(...page.orders.map((o) => o.id));
    }
    assert.deepEqual(seen, mine.map((o) => o.id).reverse());
    assert.equal((await store.listOrders(undefined, 100, undefined)).orders.length, 10);
  });

  test("events saved with progress come out numbered per order, in sequence, one order's head at a time", async (store) => {
    const [a, b] = [newOrder(), newOrder()];
    for (const order of [a, b]) await store.insertOrder(order, lease("x"));
    const paidA = { ...a, status: "paid" as const, announcedChanges: 2 };
    assert.equal(
      await store.saveProgress(paidA, lease("x"), [event(a.id, "paid"), event(a.id, "shipped")]),
      true,
    );
    assert.equal(await store.saveProgress(b, lease("x"), [event(b.id, "failed")]), true);
    assert.equal((await store.findOrder(a.id))?.announcedChanges, 2);

    const now = tick();
    const first = await store.claimOrderEvents(now, new Date(now.getTime() + 10_000), 10);
    assert.deepEqual(first.map((e) => [e.orderId, e.sequence, e.status, e.attempts]), [
      [a.id, 1, "paid", 0],
      [b.id, 1, "failed", 0],
    ]);
    assert.equal(first[0]?.order.status, "paid", "an event carries its order");
    assert.equal(first[0]?.order.shippingAddress.city, "Berlin");
    assert.deepEqual(
      await store.claimOrderEvents(now, new Date(now.getTime() + 10_000), 10),
      [],
      "hidden until",
    );

    await store.markOrderEventsDelivered(first.map((claimed) => claimed.id), now);
    const second = await store.claimOrderEvents(tick(), tick(), 10);
    assert.deepEqual(second.map((e) => [e.orderId, e.sequence, e.status]), [[a.id, 2, "shipped"]]);
  });

  test("a refused save stores no events; a refund event keeps its amount", async (store) => {
    const order = newOrder();
    await store.insertOrder(order, lease("x"));
    assert.equal(await store.saveProgress(order, lease("thief"), [event(order.id, "paid")]), false);
    assert.deepEqual(await store.claimOrderEvents(tick(), tick(), 10), []);
    const refund = {
      ...event(order.id, "cancelled"),
      type: "refunded" as const,
      refunded: { currencyCode: "EUR", amountMinor: 9_007_199_254_740_993n },
    };
    assert.equal(await store.saveProgress(order, lease("x"), [refund]), true);
    const [claimed] = await store.claimOrderEvents(tick(), tick(), 10);
    assert.deepEqual(claimed?.refunded, refund.refunded);
    assert.equal(claimed?.type, "refunded");
    assert.equal(claimed?.id, refund.id);
  });

  test("an event stored before is not stored again (a refund announced by a compensation run twice)", async (store) => {
    const order = newOrder();
    await store.insertOrder(order, lease("x"));
    const refund = {
      ...event(order.id, "cancelled"),
      type: "refunded" as const,
      refunded: { currencyCode: "USD", amountMinor: 1_200n },
    };
    assert.equal(await store.saveProgress(order, lease("x"), [event(order.id, "cancelled"), refund]), true);
    const done = { ...order, sagaStep: "done" as const };
    assert.equal(await store.saveProgress(done, lease("x"), [{ ...refund, time: tick() }]), true);
    assert.equal((await store.findOrder(order.id))?.sagaStep, "done", "the order is saved all the same");
    const now = tick();
    const announced: Array<[number, string]> = [];
    for (let round = 0; round < 3; round++) {
      for (const claimed of await store.claimOrderEvents(now, now, 10)) {
        announced.push([claimed.sequence, claimed.type]);
        await store.markOrderEventsDelivered([claimed.id], now);
      }
    }
    assert.deepEqual(announced, [[1, "status_changed"], [2, "refunded"]]);
  });

  test("a failed event waits for its retry time and holds back its order's later events", async (store) => {
    const order = newOrder();
    await store.insertOrder(order, lease("x"));
    await store.saveProgress(order, lease("x"), [event(order.id, "paid"), event(order.id, "shipped")]);
    const now = tick();
    const [head] = await store.claimOrderEvents(now, now, 10);
    assert.ok(head);
    const retry = new Date(now.getTime() + 60_000);
    await store.retryOrderEventAt(head.id, retry);
    assert.deepEqual(await store.claimOrderEvents(new Date(retry.getTime() - 1), retry, 10), []);
    const again = await store.claimOrderEvents(retry, retry, 10);
    assert.deepEqual(again.map((e) => [e.sequence, e.attempts]), [[1, 1]]);
  });

  test("of concurrent relays each event is taken by one; purge deletes only old delivered events", async (store) => {
    const orders = [newOrder(), newOrder(), newOrder(), newOrder()];
    for (const order of orders) {
      await store.insertOrder(order, lease("x"));
      await store.saveProgress(order, lease("x"), [event(order.id, "paid")]);
    }
    const now = tick();
    const until = new Date(now.getTime() + 10_000);
    const [x, y] = await Promise.all([
      store.claimOrderEvents(now, until, 10),
      store.claimOrderEvents(now, until, 10),
    ]);
    const taken = [...x, ...y];
    assert.equal(taken.length, 4);
    assert.equal(new Set(taken.map((e) => e.id)).size, 4);
    const [old, recent] = taken;
    assert.ok(old && recent);
    await store.markOrderEventsDelivered([old.id], new Date(now.getTime() - 100_000));
    await store.markOrderEventsDelivered([recent.id], now);
    assert.equal(await store.purgeDeliveredOrderEvents(new Date(now.getTime() - 1)), 1);
    assert.equal(await store.purgeDeliveredOrderEvents(new Date(now.getTime() - 1)), 0);
  });
}

/** A status event for an order, as the saga drafts it. */
function event(orderId: string, status: "paid" | "shipped" | "failed" | "cancelled"): OrderEventDraft {
  return {
    id: crypto.randomUUID(),
    orderId,
    type: "status_changed",
    time: tick(),
    status,
    reason: `now ${status}`,
    refunded: undefined,
  };
}
