/**
 * The one contract every cart store passes (memory and Redis): limits, atomic adds, removal, isolation
 * between customers and expiry.
 *
 * @module
 */
import assert from "node:assert/strict";
import { contractTest, type StoreFixture } from "@shop/platform/testing";
import type { CartStore } from "../domain/ports.ts";

const limits = { maxLines: 3, maxQuantity: 10 };

/** A fresh store for one test; `lifetimeMs` sets the carts' lifetime (for the expiry test). */
export type CartStoreFixture = (options: { lifetimeMs?: number }) => Promise<StoreFixture<CartStore>>;

/**
 * Registers the contract's tests for one adapter.
 *
 * @example
 * ```ts ignore
 * cartStoreContract("memory", (options) => Promise.resolve({ store: new MemoryCartStore(options), cleanup: async () => {} }));
 * ```
 */
export function cartStoreContract(adapter: string, fixture: CartStoreFixture): void {
  const test = contractTest(adapter, () => fixture({}));

  test("a customer without a cart has an empty one", async (store) => {
    assert.deepEqual(await store.get("u-1"), { lines: [], updateTime: undefined });
  });

  test("adds sum up on a line; lines come in product id order with the last change", async (store) => {
    const before = Date.now();
    assert.deepEqual(await store.add("u-1", { productId: "p-2", quantity: 2 }, limits), { kind: "ok" });
    await store.add("u-1", { productId: "p-1", quantity: 1 }, limits);
    await store.add("u-1", { productId: "p-2", quantity: 3 }, limits);
    const cart = await store.get("u-1");
    assert.deepEqual(cart.lines, [{ productId: "p-1", quantity: 1 }, { productId: "p-2", quantity: 5 }]);
    assert.ok(cart.updateTime && cart.updateTime.getTime() >= before - 1000);
  });

  test("concurrent adds to one line lose no units", async (store) => {
    await Promise.all(
      Array.from({ length: 10 }, () => store.add("u-1", { productId: "p-1", quantity: 1 }, limits)),
    );
    assert.deepEqual((await store.get("u-1")).lines, [{ productId: "p-1", quantity: 10 }]);
  });

  test("a line above the cap is refused and nothing is written", async (store) => {
    await store.add("u-1", { productId: "p-1", quantity: 8 }, limits);
    assert.deepEqual(await store.add("u-1", { productId: "p-1", quantity: 3 }, limits), {
      kind: "line_too_large",
      current: 8,
    });
    assert.deepEqual(await store.set("u-1", { productId: "p-1", quantity: 11 }, limits), {
      kind: "line_too_large",
      current: 8,
    });
    assert.deepEqual((await store.get("u-1")).lines, [{ productId: "p-1", quantity: 8 }]);
  });

  test("a line beyond the most lines is refused; existing lines still change", async (store) => {
    for (const productId of ["p-1", "p-2", "p-3"]) await store.add("u-1", { productId, quantity: 1 }, limits);
    assert.deepEqual(await store.add("u-1", { productId: "p-4", quantity: 1 }, limits), {
      kind: "too_many_lines",
    });
    assert.deepEqual(await store.set("u-1", { productId: "p-4", quantity: 1 }, limits), {
      kind: "too_many_lines",
    });
    assert.deepEqual(await store.add("u-1", { productId: "p-3", quantity: 1 }, limits), { kind: "ok" });
    assert.deepEqual((await store.get("u-1")).lines.map((l) => l.productId), ["p-1", "p-2", "p-3"]);
  });

  test("set replaces a line, 0 removes it, and the last removal leaves no cart", async (store) => {
    await store.add("u-1", { productId: "p-1", quantity: 4 }, limits);
    await store.add("u-1", { productId: "p-2", quantity: 1 }, limits);
    await store.set("u-1", { productId: "p-1", quantity: 2 }, limits);
    assert.deepEqual((await store.get("u-1")).lines[0], { productId: "p-1", quantity: 2 });
    await store.set("u-1", { productId: "p-1", quantity: 0 }, limits);
    await store.set("u-1", { productId: "p-2", quantity: 0 }, limits);
    await store.set("u-1", { productId: "p-9", quantity: 0 }, limits);
    assert.deepEqual(await store.get("u-1"), { lines: [], updateTime: undefined });
  });

  test("carts of customers are apart, and clear empties only its own", async (store) => {
    await store.add("u-1", { productId: "p-1", quantity: 1 }, limits);
    await store.add("u-2", { productId: "p-2", quantity: 2 }, limits);
    await store.clear("u-1");
    assert.deepEqual((await store.get("u-1")).lines, []);
    assert.deepEqual((await store.get("u-2")).lines, [{ productId: "p-2", quantity: 2 }]);
  });

  test("clear with a checkout records its lines under its request id, for that customer only", async (store) => {
    await store.add("u-1", { productId: "p-1", quantity: 2 }, limits);
    const lines = (await store.get("u-1")).lines;
    assert.equal(await store.checkedOut("u-1", "r-1"), undefined);
    await store.clear("u-1", { requestId: "r-1", lines });
    assert.deepEqual((await store.get("u-1")).lines, []);
    assert.deepEqual(await store.checkedOut("u-1", "r-1"), [{ productId: "p-1", quantity: 2 }]);
    assert.equal(await store.checkedOut("u-2", "r-1"), undefined, "another customer's request id");
    assert.equal(await store.checkedOut("u-1", "r-2"), undefined);
    await store.add("u-1", { productId: "p-3", quantity: 1 }, limits);
    assert.deepEqual(await store.checkedOut("u-1", "r-1"), [{ productId: "p-1", quantity: 2 }], "a new cart");
  });

  Deno.test(`${adapter}: a cart is gone once its lifetime passed without a change`, async () => {
    const { store, cleanup } = await fixture({ lifetimeMs: 200 });
    try {
      await store.add("u-1", { productId: "p-1", quantity: 1 }, limits);
      assert.equal((await store.get("u-1")).lines.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.deepEqual(await store.get("u-1"), { lines: [], updateTime: undefined });
    } finally {
      await cleanup();
    }
  });
}
