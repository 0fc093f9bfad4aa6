import assert from "node:assert/strict";
import { tailToShipper, toDocument } from "./ship_file.ts";
import { targetGroups } from "./prometheus_targets.ts";
import type { Endpoint } from "@shop/platform/discovery";

Deno.test("an Envoy access-log line becomes a document with a message, and loses its query string", () => {
  const line = JSON.stringify({
    time: "2026-01-01T00:00:00.000Z",
    request_id: "r-1",
    method: "GET",
    path: "/v1/users?email=ada@example.com",
    status: 200,
  });
  const document = JSON.parse(toDocument(line, "envoy", "envoy-1") ?? "{}");
  assert.equal(document.message, "GET /v1/users -> 200");
  assert.equal(document.path, "/v1/users");
  assert.equal(document.request_id, "r-1");
  assert.equal(document.service, "envoy");
  assert.equal(document.time, "2026-01-01T00:00:00.000Z");
});

Deno.test("lines that are not JSON objects (Envoy's own diagnostics) are skipped", () => {
  assert.equal(toDocument("[2026-01-01 00:00:00.000][1][info][main] starting", "envoy", "e"), undefined);
  assert.equal(toDocument("[1, 2]", "envoy", "e"), undefined);
  assert.equal(toDocument("{not json", "envoy", "e"), undefined);
});

/** Tails `file` from its end, polling every 20 ms: the messages it ships, and how to wait and stop. */
function tail(file: string) {
  const pushed: string[] = [];
  const controller = new AbortController();
  const tailing = tailToShipper({ push: (line) => pushed.push(JSON.parse(line).message) }, {
    file,
    service: "envoy",
    instance: "e",
    fromEnd: true,
    pollMs: 20,
  }, controller.signal);
  return {
    pushed,
    waitFor: async (count: number) => {
      for (let i = 0; i < 200 && pushed.length < count; i++) await new Promise((r) => setTimeout(r, 20));
    },
    stop: async () => {
      controller.abort();
      await tailing;
    },
  };
}

Deno.test("the tailer ships lines appended to the file, also after it was truncated", async () => {
  const file = await Deno.makeTempFile({ suffix: ".log" });
  await Deno.writeTextFile(file, '{"message":"old"}\n');
  const tailer = tail(file);
  await new Promise((r) => setTimeout(r, 60));
  await Deno.writeTextFile(file, 'noise\n{"message":"one"}\n{"message":"tw', { append: true });
  await Deno.writeTextFile(file, 'o"}\n', { append: true });
  await tailer.waitFor(2);
  await Deno.writeTextFile(file, '{"message":"after truncation"}\n');
  await tailer.waitFor(3);
  await tailer.stop();
  await Deno.remove(file);
  assert.deepEqual(tailer.pushed, ["one", "two", "after truncation"]);
});

Deno.test("a file that appears after the tailer started (Envoy starting later) is shipped from its first line", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/envoy.log`;
  const tailer = tail(file);
  await new Promise((r) => setTimeout(r, 60));
  await Deno.writeTextFile(file, '{"message":"first"}\n{"message":"second"}\n');
  await tailer.waitFor(2);
  await tailer.stop();
  await Deno.remove(dir, { recursive: true });
  assert.deepEqual(tailer.pushed, ["first", "second"]);
});

Deno.test("each registered instance is one file_sd target labelled with its service and instance id", () => {
  const endpoint = (service: string, port: number, tls = true) =>
    ({
      service,
      instanceId: `${service}-${port}`,
      address: "127.0.0.1",
      port,
      url: `https://127.0.0.1:${port}`,
      protocols: ["grpc"],
      tls,
      mtls: tls,
      metricsPath: "/metrics",
      healthService: "grpc.health.v1.Health",
      version: "1.0.0",
      startTime: "2026-01-01T00:00:00.000Z",
      hostname: "h",
      pid: 1,
      metadata: {},
    }) as unknown as Endpoint;
  const groups = targetGroups(
    new Map([["user", [endpoint("user", 50061)]], ["order", [endpoint("order", 50053, false)]]]),
  );
  assert.deepEqual(groups, [
    {
      targets: ["127.0.0.1:50053"],
      labels: {
        service: "order",
        instance_id: "order-50053",
        version: "1.0.0",
        __metrics_path__: "/metrics",
        __scheme__: "http",
      },
    },
    {
      targets: ["127.0.0.1:50061"],
      labels: {
        service: "user",
        instance_id: "user-50061",
        version: "1.0.0",
        __metrics_path__: "/metrics",
        __scheme__: "https",
      },
    },
  ]);
});
