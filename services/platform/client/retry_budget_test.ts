import assert from "node:assert/strict";
import { RetryBudget } from "./retry_budget.ts";

Deno.test("RetryBudget allows its starting burst, then one retry per 1/ratio calls", () => {
  const budget = new RetryBudget({ ratio: 0.1, burst: 3 });
  assert.deepEqual([1, 2, 3, 4].map(() => budget.tryRetry()), [true, true, true, false]);
  for (let i = 0; i < 9; i++) budget.onCall();
  assert.equal(budget.tryRetry(), false, "nine calls earn less than one retry");
  budget.onCall();
  assert.equal(budget.tryRetry(), true, "the tenth call earns it");
  assert.equal(budget.tryRetry(), false);
});

Deno.test("RetryBudget saves up no more than its burst", () => {
  const budget = new RetryBudget({ ratio: 0.5, burst: 2 });
  for (let i = 0; i < 100; i++) budget.onCall();
  assert.equal(budget.available, 2);
  assert.deepEqual([1, 2, 3].map(() => budget.tryRetry()), [true, true, false]);
});

Deno.test("RetryBudget bounds retries to the ratio of calls however many fail", () => {
  // Every call fails and wants a retry: over many calls, retries stay near ratio × calls + burst.
  const budget = new RetryBudget({ ratio: 0.2, burst: 10 });
  let retries = 0;
  for (let call = 0; call < 1000; call++) {
    budget.onCall();
    while (budget.tryRetry()) retries++;
  }
  assert.ok(retries <= 0.2 * 1000 + 10, `retries: ${retries}`);
  assert.ok(retries >= 0.2 * 1000, `retries: ${retries}`);
});

Deno.test("RetryBudget refuses a negative ratio or burst", () => {
  assert.throws(() => new RetryBudget({ ratio: -1 }), RangeError);
  assert.throws(() => new RetryBudget({ burst: -1 }), RangeError);
});
