import assert from "node:assert/strict";
import { gatewayAnswers, overloadChecks, overloadFigures, politeOrders, renderOverload } from "./overload.ts";

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

Deno.test("gatewayAnswers() reads Envoy's access log lines of one path, and the figures time its refusals", () => {
  const line = (path: string, status: number, flags: string, duration: number) =>
    JSON.stringify({ path, status: String(status), flags, duration_ms: String(duration) });
  const log = [
    "[2026-11-30 04:30:00.000][12][info][main] starting main dispatch loop",
    line("/v1/orders", 429, "UO", 1),
    line("/v1/orders", 200, "-", 640),
    line("/v1/products", 429, "RL", 0),
    line("/v1/orders", 429, "UO", 7),
    "",
  ].join("\n");
  const answers = gatewayAnswers(log, "/v1/orders");
  assert.deepEqual(answers.map((a) => [a.status, a.flags, a.durationMs]), [[429, "UO", 1], [200, "-", 640], [
    429,
    "UO",
    7,
  ]]);
  const figures = overloadFigures("after", 64, 1, [{ code: 429, latencyMs: 30 }], answers);
  assert.equal(figures.gatewayRejectedP50Ms, 1);
  assert.equal(figures.gatewayRejectedP99Ms, 7);
  assert.match(renderOverload([figures], []), /\| 30 ms \| 1 \/ 7 ms \|/);
  assert.equal(overloadFigures("after", 64, 1, []).gatewayRejectedP99Ms, undefined, "no log read: no figure");
});

Deno.test("politeOrders() sends a refused order again, the same request, after retry-after; the rows tell the clients apart", async () => {
  // A shop that refuses the first attempt of every order and admits the second.
  const attempts = new Map<string, number>();
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const { requestId } = await request.json() as { requestId: string };
    const attempt = (attempts.get(requestId) ?? 0) + 1;
    attempts.set(requestId, attempt);
    return attempt === 1
      ? Response.json({ code: 8 }, { status: 429, headers: { "retry-after": "1" } })
      : Response.json({ order: { status: "ORDER_STATUS_PAID" } });
  });
  using client = Deno.createHttpClient({});
  const hits = await politeOrders({
    url: `http://127.0.0.1:${server.addr.port}/v1/orders`,
    concurrency: 1,
    durationS: 3,
    order: (n) => ({
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ requestId: `r-${n}` }),
    }),
    client,
  });
  assert.deepEqual(hits.slice(0, 2).map((hit) => [hit.code, hit.orderStatus]), [[429, undefined], [
    200,
    "ORDER_STATUS_PAID",
  ]]);
  assert.equal(attempts.get("r-0"), 2, "the refused order went again, not a new one in its place");
  assert.ok(attempts.size < hits.length, "fewer orders than answers: each refusal was followed by a retry");
  const figures = overloadFigures("after", 1, 3, hits, undefined, "polite");
  assert.match(renderOverload([figures], []), /\| shedding, client honours retry-after \| 1 \|/);
});
