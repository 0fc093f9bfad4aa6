import assert from "node:assert/strict";
import { formatDuration, type JaegerTrace, parseTags, searchUrl, toViewTrace } from "./model.ts";

const checkout: JaegerTrace = {
  traceID: "t1",
  processes: { p1: { serviceName: "gateway" }, p2: { serviceName: "order" }, p3: { serviceName: "payment" } },
  spans: [
    // Out of order, as Jaeger may answer them.
    {
      traceID: "t1",
      spanID: "charge",
      operationName: "saga.charge",
      processID: "p2",
      startTime: 1_000_300,
      duration: 200,
      references: [{ refType: "CHILD_OF", traceID: "t1", spanID: "create" }],
      tags: [{ key: "otel.status_code", value: "ERROR" }, { key: "shop.order.id", value: "o-1" }],
      logs: [{
        timestamp: 1_000_450,
        fields: [{ key: "event", value: "exception" }, { key: "exception.message", value: "declined" }],
      }],
    },
    {
      traceID: "t1",
      spanID: "root",
      operationName: "ingress",
      processID: "p1",
      startTime: 1_000_000,
      duration: 1_000,
    },
    {
      traceID: "t1",
      spanID: "reserve",
      operationName: "saga.reserve",
      processID: "p2",
      startTime: 1_000_100,
      duration: 150,
      references: [{ refType: "CHILD_OF", traceID: "t1", spanID: "create" }],
    },
    {
      traceID: "t1",
      spanID: "create",
      operationName: "CreateOrder",
      processID: "p2",
      startTime: 1_000_050,
      duration: 900,
      references: [
        { refType: "CHILD_OF", traceID: "t1", spanID: "root" },
        { refType: "FOLLOWS_FROM", traceID: "t0", spanID: "first" },
      ],
      tags: [{ key: "rpc.grpc.status_code", type: "int64", value: 0 }],
    },
    {
      // Its parent never reached the store: drawn as a root, not dropped.
      traceID: "t1",
      spanID: "orphan",
      operationName: "Charge",
      processID: "p3",
      startTime: 1_000_500,
      duration: 100,
      references: [{ refType: "CHILD_OF", traceID: "t1", spanID: "lost" }],
    },
  ],
};

Deno.test("a trace is drawn as its span tree, depth first, children in start order, offsets from its start", () => {
  const view = toViewTrace(checkout);
  assert.deepEqual(
    view.spans.map((span) => `${"  ".repeat(span.depth)}${span.service} ${span.name} +${span.startOffsetUs}`),
    [
      "gateway ingress +0",
      "  order CreateOrder +50",
      "    order saga.reserve +100",
      "    order saga.charge +300",
      "payment Charge +500",
    ],
  );
  assert.equal(view.title, "gateway ingress");
  assert.equal(view.durationUs, 1_000);
  assert.deepEqual(view.services, ["gateway", "order", "payment"]);
  assert.equal(view.errorCount, 1);
  const [, create, , charge, orphan] = view.spans;
  assert.deepEqual(create?.links, [{ traceId: "t0", spanId: "first" }], "a link to another trace is kept");
  assert.deepEqual(create?.tags, [["rpc.grpc.status_code", "0"]]);
  assert.equal(charge?.failed, true);
  assert.deepEqual(charge?.events, [{
    offsetUs: 450,
    name: "exception",
    attributes: [["exception.message", "declined"]],
  }]);
  assert.equal(orphan?.parentId, undefined);
});

Deno.test("the search form's tags and query become the address of Jaeger's trace search", () => {
  assert.equal(parseTags("  "), undefined);
  assert.deepEqual(parseTags("shop.order.id=o-1 error=true"), { "shop.order.id": "o-1", error: "true" });
  assert.ok(parseTags("shop.order.id") instanceof Error, "a tag without a value is refused");
  const url = searchUrl({
    service: "order",
    operation: "saga.charge",
    tags: "shop.order.id=o-1",
    lookback: "1h",
    limit: "5",
  });
  assert.equal(typeof url, "string");
  const params = new URL(String(url), "http://jaeger").searchParams;
  assert.equal(params.get("operation"), "saga.charge");
  assert.deepEqual(JSON.parse(params.get("tags") ?? ""), { "shop.order.id": "o-1" });
  assert.equal(params.get("limit"), "5");
});

Deno.test("durations read at a glance", () => {
  assert.equal(formatDuration(850), "850µs");
  assert.equal(formatDuration(1_234), "1.23ms");
  assert.equal(formatDuration(12_345), "12.3ms");
  assert.equal(formatDuration(1_240_000), "1.24s");
});
