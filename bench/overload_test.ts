import assert from "node:assert/strict";
import { overloadChecks, overloadFigures, renderOverload } from "./overload.ts";

const paid = (latencyMs: number) => ({ code: 200, latencyMs, orderStatus: "ORDER_STATUS_PAID" });

Deno.test("overloadFigures() counts PAID orders as goodput and times admitted and refused answers apart", () => {
  const figures = overloadFigures("after", 64, 2, [
    paid(100),
    paid(300),
    { code: 200, latencyMs: 200, orderStatus: "ORDER_STATUS_FAILED" },
    { code: 429, latencyMs: 2 },
    { code: 429, latencyMs: 9 },
    { code: 0, latencyMs: 30_000 },
  ]);
  assert.equal(figures.goodput, 1, "two PAID orders in two seconds");
  assert.equal(figures.admittedP99Ms, 300);
  assert.equal(figures.rejected, 2);
  assert.equal(figures.rejectedP99Ms, 9);
  assert.deepEqual(figures.statuses, {
    ORDER_STATUS_PAID: 2,
    ORDER_STATUS_FAILED: 1,
    "HTTP 429": 2,
    "no response": 1,
  });
});

Deno.test("overloadChecks() holds the runs to issue 21's targets", () => {
  const at = (
    stack: "before" | "after",
    concurrency: number,
    goodput: number,
    p99: number,
    refusedP99 = 0,
  ) => ({
    ...overloadFigures(stack, concurrency, 1, []),
    goodput,
    admittedP99Ms: p99,
    rejectedP99Ms: refusedP99,
  });
  const met = overloadChecks(
    at("before", 16, 100, 200),
    at("after", 16, 100, 200),
    at("after", 64, 85, 590, 12),
    [],
  );
  assert.deepEqual(met.map((c) => c.met), [true, true, true, true, true]);
  const missed = overloadChecks(
    at("before", 16, 100, 200),
    at("after", 16, 90, 200),
    at("after", 64, 70, 700, 60),
    ["after order-1: code null, signal SIGABRT"],
  );
  assert.deepEqual(missed.map((c) => c.met), [false, false, false, false, false]);
  const table = renderOverload([at("after", 64, 85, 590, 12)], missed);
  assert.match(table, /\| shedding \| 64 \|/);
  assert.match(table, /\| no service exited \| after order-1: code null, signal SIGABRT \| NO \|/);
});
