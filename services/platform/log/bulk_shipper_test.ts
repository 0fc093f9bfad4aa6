import assert from "node:assert/strict";
import { createBulkShipper } from "./bulk_shipper.ts";
import { jsonLinesFormatter } from "./json_lines.ts";
import type { LogRecord } from "@logtape/logtape";

/** A bulk endpoint on a free port that records what it receives, or answers as `reply` says. */
function bulkEndpoint(
  reply: (body: string) => Response | Promise<Response> = () => Response.json({ errors: false }),
) {
  const bodies: string[] = [];
  const headers: Headers[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const body = await request.text();
    bodies.push(body);
    headers.push(request.headers);
    return await reply(body);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/insert/elasticsearch/_bulk`,
    bodies,
    headers,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("shipped lines arrive as Elasticsearch bulk create actions with VictoriaLogs' field headers", async () => {
  await using endpoint = bulkEndpoint();
  const shipper = createBulkShipper({ url: endpoint.url, flushInterval: 50 });
  shipper.push('{"time":"2026-01-01T00:00:00.000Z","message":"one","service":"demo"}\n');
  shipper.push('{"time":"2026-01-01T00:00:01.000Z","message":"two","service":"demo"}');
  await shipper.close();
  assert.equal(
    endpoint.bodies.join(""),
    '{"create":{"_index":"shop-logs"}}\n{"time":"2026-01-01T00:00:00.000Z","message":"one","service":"demo"}\n' +
      '{"create":{"_index":"shop-logs"}}\n{"time":"2026-01-01T00:00:01.000Z","message":"two","service":"demo"}\n',
  );
  assert.equal(endpoint.headers[0]?.get("vl-msg-field"), "message");
  assert.equal(endpoint.headers[0]?.get("content-type"), "application/x-ndjson");
  assert.equal(shipper.stats.shipped, 2);
});

Deno.test("a store that is down loses nothing until the queue is full, then drops and counts", async () => {
  // Nothing listens on this port (a server that was there has gone).
  await using gone = bulkEndpoint();
  const url = gone.url;
  await gone[Symbol.asyncDispose]();
  const shipper = createBulkShipper({ url, maxQueue: 100, batchSize: 10, flushInterval: 20, timeout: 200 });
  for (let i = 0; i < 150; i++) shipper.push(`{"message":"line ${i}"}`);
  await shipper.flush();
  assert.equal(shipper.stats.dropped.queue_full, 50);
  assert.equal(shipper.stats.queued, 100);
  assert.ok(shipper.stats.failedRequests >= 1);
  await shipper.close();
});

Deno.test("a store that never answers is given up on after the timeout, and the lines stay queued", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const shipper = createBulkShipper({
      url: `http://127.0.0.1:${listener.addr.port}/_bulk`,
      flushInterval: 10_000,
      timeout: 200,
    });
    let down = "";
    shipper.onStateChange = (state, detail) => down = `${state}: ${detail}`;
    shipper.push('{"message":"waits"}');
    const started = Date.now();
    await shipper.flush();
    assert.ok(Date.now() - started < 5_000, "flush returned (bounded by the POST's timeout)");
    assert.match(down, /^down: TimeoutError/);
    assert.equal(shipper.stats.queued, 1);
    assert.equal(shipper.stats.dropped.queue_full, 0);
    await shipper.close();
  } finally {
    listener.close();
    held.forEach((conn) => conn.close());
    await accepting.catch(() => {});
  }
});

Deno.test("a store that refuses a batch (400) drops it as rejected instead of retrying it for ever", async () => {
  await using endpoint = bulkEndpoint(() => new Response("bad", { status: 400 }));
  const shipper = createBulkShipper({ url: endpoint.url, flushInterval: 20 });
  shipper.push('{"message":"bad"}');
  await shipper.close();
  assert.equal(shipper.stats.dropped.rejected, 1);
  assert.equal(shipper.stats.queued, 0);
});

Deno.test("the store answers again after an outage and the queued lines are shipped", async () => {
  let failing = true;
  await using endpoint = bulkEndpoint(() =>
    failing ? new Response("overloaded", { status: 503 }) : Response.json({ errors: false })
  );
  const shipper = createBulkShipper({ url: endpoint.url, flushInterval: 20 });
  const states: string[] = [];
  shipper.onStateChange = (state) => states.push(state);
  shipper.push('{"message":"kept"}');
  await shipper.flush();
  assert.equal(shipper.stats.queued, 1);
  failing = false;
  await shipper.close();
  assert.equal(shipper.stats.shipped, 1);
  assert.deepEqual(states, ["down", "up"]);
});

function record(rawMessage: string, message: unknown[], properties: Record<string, unknown>): LogRecord {
  return { category: ["shop", "test"], level: "info", rawMessage, message, properties, timestamp: 0 };
}

Deno.test("log lines mask e-mail addresses and JWTs, and secret placeholders in messages", () => {
  const format = jsonLinesFormatter({ service: "user", instance: "user-1" });
  const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl";
  const line = JSON.parse(format(record(
    "Login for {email} with {password}",
    ["Login for ", "ada@example.com", " with ", "hunter22", ""],
    { email: "ada@example.com", password: "hunter22", note: `bearer ${jwt}` },
  )));
  assert.equal(line.message, "Login for <email>@example.com with <redacted>");
  assert.equal(line.email, "<email>@example.com");
  assert.equal(line.password, "<redacted>");
  assert.equal(line.note, "bearer <jwt>");
});
