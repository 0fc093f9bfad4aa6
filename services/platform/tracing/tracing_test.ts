import assert from "node:assert/strict";
import { activeTraceIds, currentTraceparent, inSpan, linkTo, setupTracing, tracingEnv } from "./tracing.ts";
import { tracedFetch } from "./traced_fetch.ts";
import { describeStatement } from "./postgres_statements.ts";

Deno.test("tracingEnv: off unless an endpoint is set; the ratio is checked", () => {
  assert.deepEqual(tracingEnv({}), { endpoint: "", sampleRatio: 1 });
  assert.deepEqual(
    tracingEnv({ SHOP_TRACING_ENDPOINT: "http://127.0.0.1:4318", SHOP_TRACING_SAMPLE_RATIO: "0.25" }),
    { endpoint: "http://127.0.0.1:4318", sampleRatio: 0.25 },
  );
  assert.throws(() => tracingEnv({ SHOP_TRACING_SAMPLE_RATIO: "2" }), /SAMPLE_RATIO/);
  assert.throws(() => tracingEnv({ SHOP_TRACING_ENDPOINT: "127.0.0.1:4318" }), /ENDPOINT/);
});

Deno.test("linkTo: a stored traceparent becomes a link; anything else is none", () => {
  const link = linkTo("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  assert.equal(link?.context.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(link?.context.spanId, "00f067aa0ba902b7");
  assert.equal(linkTo("garbage"), undefined);
  assert.equal(linkTo(undefined), undefined);
});

Deno.test("spans reach the store over OTLP: parent and child, errors, trace context on fetch", async () => {
  const received: unknown[] = [];
  const seenTraceparents: string[] = [];
  await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (request) => {
    if (new URL(request.url).pathname === "/v1/traces") {
      received.push(await request.json());
      return new Response("{}", { headers: { "content-type": "application/json" } });
    }
    if (new URL(request.url).pathname === "/refuse") return new Response("card declined", { status: 402 });
    seenTraceparents.push(request.headers.get("traceparent") ?? "");
    return new Response("ok");
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const tracing = setupTracing({ service: "demo", instance: "demo-1", endpoint: base, sampleRatio: 1 });
  assert.ok(tracing);
  let traceId = "";
  let outerTraceparent: string | undefined;
  await inSpan("outer", {}, async () => {
    traceId = activeTraceIds()?.trace_id ?? "";
    await new Promise((resolve) => setTimeout(resolve, 1));
    // The context survives a timer (AsyncLocalStorage).
    assert.equal(activeTraceIds()?.trace_id, traceId);
    await (await tracedFetch("demo-peer")(`${base}/hello?secret=1`)).text();
    // A refusal from the peer is an answer (no throw), marked on its span.
    const refused = await tracedFetch("demo-peer")(`${base}/refuse`, { method: "POST" });
    assert.equal(refused.status, 402);
    await refused.body?.cancel();
    outerTraceparent = currentTraceparent();
    await assert.rejects(inSpan("failing", {}, () => Promise.reject(new Error("card declined"))));
  });
  await tracing.shutdown();

  assert.match(traceId, /^[0-9a-f]{32}$/);
  assert.match(outerTraceparent ?? "", new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  assert.equal(seenTraceparents.length, 1);
  assert.ok(seenTraceparents[0]?.startsWith(`00-${traceId}-`), "the fetch carried the trace context");
  type OtlpSpan = {
    name: string;
    traceId: string;
    spanId: string;
    parentSpanId?: string;
    status?: { code?: number };
  };
  const spans = (received as Array<{ resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> }>)
    .flatMap((body) => body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
  const byName = new Map(spans.map((span) => [span.name, span]));
  const outer = byName.get("outer");
  assert.ok(outer);
  assert.equal(byName.get("GET /hello")?.parentSpanId, outer.spanId, "no query string in the name");
  assert.equal(byName.get("failing")?.parentSpanId, outer.spanId);
  assert.equal(byName.get("failing")?.status?.code, 2, "the error is on the span that saw it");
  assert.equal(byName.get("POST /refuse")?.status?.code, 2, "a 402 from the peer fails its call's span");
});

Deno.test("describeStatement: a SQL statement's operation and table, from its literal parts only", () => {
  assert.deepEqual(describeStatement("\n  INSERT INTO orders (id, status) VALUES (?, ?)"), {
    operation: "INSERT",
    collection: "orders",
  });
  assert.deepEqual(describeStatement("update reservations set state = ? where id = ?"), {
    operation: "UPDATE",
    collection: "reservations",
  });
  assert.deepEqual(describeStatement("DELETE FROM order_events WHERE delivered_at < ?"), {
    operation: "DELETE",
    collection: "order_events",
  });
  assert.deepEqual(describeStatement("SELECT id, status FROM orders WHERE id = ? FOR UPDATE"), {
    operation: "SELECT",
    collection: "orders",
  });
  assert.deepEqual(describeStatement("begin isolation level serializable"), {
    operation: "BEGIN",
    collection: undefined,
  });
  assert.deepEqual(describeStatement("SELECT 1"), { operation: "SELECT", collection: undefined });
});
