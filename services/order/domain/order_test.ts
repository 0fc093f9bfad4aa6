import assert from "node:assert/strict";
import { DomainError } from "@shop/platform/errors";
import {
  canTransition,
  type OrderStatus,
  price,
  type PricedItem,
  transition,
  type UnpricedOrder,
} from "./order.ts";

const statuses: OrderStatus[] = [
  "pending",
  "awaiting_payment",
  "paid",
  "shipped",
  "delivered",
  "failed",
  "cancelled",
];
const legal = new Set([
  "pending>awaiting_payment",
  "awaiting_payment>paid",
  "awaiting_payment>failed",
  "pending>paid",
  "pending>failed",
  "pending>cancelled",
  "paid>shipped",
  "paid>cancelled",
  "shipped>delivered",
]);

function order(status: OrderStatus): UnpricedOrder {
  const now = new Date("2026-01-01T00:00:00Z");
  return {
    id: "o-1",
    userId: "u-1",
    requestId: "r-1",
    items: [],
    total: undefined,
    status,
    statusHistory: [{ status, reason: "", time: now }],
    failureReason: "",
    shippingAddress: { name: "", line1: "", line2: "", city: "", postalCode: "", country: "DE" },
    paymentMethod: "pm_card_visa",
    createTime: now,
    updateTime: now,
  };
}

Deno.test("the status machine allows exactly PENDING->PAID->SHIPPED->DELIVERED, PENDING->FAILED, PENDING/PAID->CANCELLED and PENDING->AWAITING_PAYMENT->PAID/FAILED", () => {
  for (const from of statuses) {
    for (const to of statuses) {
      assert.equal(canTransition(from, to), legal.has(`${from}>${to}`), `${from} -> ${to}`);
    }
  }
});

Deno.test("transition() records the change and refuses an illegal one naming both states", () => {
  const later = new Date("2026-01-02T00:00:00Z");
  const shipped = transition(order("paid"), "shipped", "handed to the carrier", later);
  assert.equal(shipped.status, "shipped");
  assert.deepEqual(shipped.statusHistory.at(-1), {
    status: "shipped",
    reason: "handed to the carrier",
    time: later,
  });
  assert.equal(shipped.updateTime, later);

  assert.throws(() => transition(order("shipped"), "cancelled", "too late", later), (error: unknown) => {
    assert.ok(error instanceof DomainError);
    assert.equal(error.kind, "failed_precondition");
    assert.match(error.message, /SHIPPED.*CANCELLED/);
    return true;
  });
});

Deno.test("a failed order keeps its reason", () => {
  const failed = transition(order("pending"), "failed", "out of stock: Kettle", new Date());
  assert.equal(failed.failureReason, "out of stock: Kettle");
});

Deno.test("price() copies the catalog's names and prices and sums them in minor units", () => {
  const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });
  const placed = {
    ...order("pending"),
    items: [{ productId: "a", quantity: 3 }, { productId: "b", quantity: 1 }],
  };
  const priced = price(placed, [
    { productId: "b", quantity: 1, name: "B", unitPrice: usd(1n) },
    { productId: "a", quantity: 3, name: "A", unitPrice: usd(1999n) },
  ]);
  assert.deepEqual(priced.items, [
    { productId: "a", quantity: 3, name: "A", unitPrice: usd(1999n) },
    { productId: "b", quantity: 1, name: "B", unitPrice: usd(1n) },
  ]);
  assert.deepEqual(priced.total, usd(5998n));
});

Deno.test("price() refuses mixed currencies and a line the catalog did not price", () => {
  const placed = {
    ...order("pending"),
    items: [{ productId: "a", quantity: 1 }, { productId: "b", quantity: 1 }],
  };
  const a: PricedItem = {
    productId: "a",
    quantity: 1,
    name: "A",
    unitPrice: { currencyCode: "USD", amountMinor: 1n },
  };
  const euro: PricedItem = {
    productId: "b",
    quantity: 1,
    name: "B",
    unitPrice: { currencyCode: "EUR", amountMinor: 1n },
  };
  for (const lines of [[a, euro], [a]]) {
    assert.throws(() => price(placed, lines), (error: unknown) => {
      assert.ok(error instanceof DomainError);
      assert.equal(error.kind, "failed_precondition");
      return true;
    });
  }
});
