import assert from "node:assert/strict";
import {
  devMemoryTable,
  parseGhzReport,
  parseVegetaReport,
  ratioOf,
  renderReport,
  standardRatios,
  withFailures,
} from "./results.ts";
import type { BenchResult, ScenarioResult } from "./results.ts";
import { anyNameOf, parseStat, pssKiB, rssKiB } from "./procs.ts";
import { parseHandlingTimes, timesBetween } from "./rpc_metrics.ts";
import { vegetaTargetLine } from "./load.ts";
import { decodeCursor } from "./seed.ts";

Deno.test("a vegeta report becomes throughput, percentiles in ms and non-2xx errors by status", () => {
  const summary = parseVegetaReport({
    requests: 1000,
    throughput: 95.5,
    success: 0.97,
    latencies: { "50th": 12_500_000, "99th": 80_000_000, mean: 1 },
    status_codes: { "200": 970, "429": 20, "0": 10 },
    errors: ["429 Too Many Requests", "dial tcp: connection refused"],
  });
  assert.equal(summary.requests, 1000);
  assert.equal(summary.throughput, 95.5);
  assert.equal(summary.p50Ms, 12.5);
  assert.equal(summary.p99Ms, 80);
  assert.equal(summary.errors, 30);
  assert.equal(summary.errorKinds["HTTP 429"], 20);
  assert.equal(summary.errorKinds["no response"], 10);
  assert.ok("dial tcp: connection refused" in summary.errorKinds);
});

Deno.test("a ghz report counts only OK answers as throughput and sets apart requests cut off at the end", () => {
  const summary = parseGhzReport({
    count: 1016,
    total: 10e9,
    latencyDistribution: [{ percentage: 50, latency: 4e6 }, { percentage: 99, latency: 9e6 }],
    statusCodeDistribution: { OK: 990, Unavailable: 18, Internal: 8 },
    errorDistribution: {
      "rpc error: code = Unavailable desc = error reading from server: read tcp: use of closed network connection":
        16,
      "rpc error: code = Unavailable desc = connection reset": 2,
      "rpc error: code = Internal desc = boom": 8,
    },
  });
  assert.equal(summary.requests, 1000);
  assert.equal(summary.throughput, 99);
  assert.equal(summary.p50Ms, 4);
  assert.equal(summary.p99Ms, 9);
  assert.equal(summary.errors, 10);
  assert.equal(summary.cutOffAtEnd, 16);
  assert.equal(summary.errorKinds.Unavailable, 2);
  assert.equal(summary.errorKinds.Internal, 8);
});

Deno.test("a report that is not the tool's JSON is refused with what was given", () => {
  assert.throws(() => parseVegetaReport({ nope: 1 }), /not a vegeta JSON report/);
  assert.throws(() => parseGhzReport(null), /not a ghz JSON report/);
});

function scenario(id: string, throughput: number, p50Ms: number): ScenarioResult {
  return {
    id,
    title: id,
    tool: "vegeta",
    concurrency: 16,
    durationS: 10,
    requests: throughput * 10,
    throughput,
    p50Ms,
    p99Ms: p50Ms * 3,
    errors: 0,
    errorKinds: {},
    processes: [{ name: "product-1", cpuPercent: 97, rssMiB: 140 }, {
      name: "envoy",
      cpuPercent: 20,
      rssMiB: 70,
    }],
  };
}

Deno.test("ratios compare scenarios of the same run and skip those that did not run", () => {
  const scenarios = [scenario("health", 1000, 2), scenario("get_grpc", 400, 5), scenario("get_rest", 300, 6)];
  const ratios = standardRatios(scenarios);
  assert.deepEqual(ratios.map((r) => r.name), ["get_grpc / health", "get_rest / get_grpc"]);
  assert.equal(ratios[0]?.throughput, 0.4);
  assert.equal(ratios[0]?.p50, 2.5);
  assert.equal(ratios[1]?.throughput, 0.75);
  assert.equal(ratioOf("x", "y", scenario("a", 1, 1), scenario("b", 0, 0)), undefined);
});

Deno.test("the report shows every scenario, ratio, curve point and idle process", () => {
  const result: BenchResult = {
    startedAt: "2026-01-01T00:00:00Z",
    totalSeconds: 300,
    machine: { nproc: 2, memoryGiB: 23.5, cpuModel: "Test CPU", loadAverageAtStart: 1.5 },
    tools: { vegeta: "12.13.0", ghz: "0.120.0" },
    stack: {},
    scenarios: [scenario("health", 1000, 2), scenario("get_grpc", 400, 5)],
    ratios: standardRatios([scenario("health", 1000, 2), scenario("get_grpc", 400, 5)]),
    curves: [
      { curve: "list_orders", rows: 1000, page: "first", requests: 100, p50Ms: 10, p99Ms: 20, errors: 0 },
      { curve: "list_orders", rows: 100000, page: "first", requests: 90, p50Ms: 11, p99Ms: 25, errors: 1 },
    ],
    footprint: {
      idle: [{ name: "postgres", cpuPercent: 0, rssMiB: 190 }, { name: "envoy", cpuPercent: 0, rssMiB: 70 }],
      devStartSeconds: 15.94,
      devStartNote: "warm .local/ data",
      benchStackStartSeconds: 12,
    },
    notes: [],
  };
  const text = renderReport(result);
  assert.match(
    text,
    /\| health +\| vegeta \| 16 +\| 1000 +\| 2\.0 +\| 6\.0 +\| 0\/10000 +\| product-1 97%, envoy 20%/,
  );
  assert.match(text, /get_grpc \/ health +\| 0\.400 +\| 2\.50x/);
  assert.match(text, /list_orders first +\| 10\.0 \/ 20\.0 +\| 11\.0 \/ 25\.0 \(1 err\)/);
  assert.match(text, /\| total +\| 260 +\|/);
  assert.match(text, /deno task dev to all healthy: 15\.9 s \(warm \.local\/ data\)/);
  assert.match(text, /2 cores, 23\.5 GiB, Test CPU/);
});

Deno.test("/proc figures: CPU ticks after a command name with spaces, and VmRSS", () => {
  const stat = parseStat(
    "4242 (deno (worker) x) S 7 4242 4242 0 -1 4194560 1 0 0 0 300 120 5 6 20 0 9 0 100",
  );
  assert.deepEqual(stat, { pid: 4242, ppid: 7, ticks: 420 });
  assert.equal(rssKiB("Name:\tdeno\nVmRSS:\t  123456 kB\nVmSwap:\t0 kB\n"), 123456);
  assert.equal(rssKiB("Name:\tzombie\nState:\tZ\n"), 0);
});

Deno.test("server time per RPC is the difference of two metric readings", () => {
  const page = (count: number, sum: number) =>
    [
      "# HELP grpc_server_handling_seconds Time to handle an RPC.",
      `grpc_server_handling_seconds_bucket{le="0.1",grpc_service="shop.product.v1.InventoryService",grpc_method="ReserveStock",grpc_type="unary",grpc_code="OK",service="product"} ${count}`,
      `grpc_server_handling_seconds_sum{grpc_service="shop.product.v1.InventoryService",grpc_method="ReserveStock",grpc_type="unary",grpc_code="OK",service="product"} ${sum}`,
      `grpc_server_handling_seconds_count{grpc_service="shop.product.v1.InventoryService",grpc_method="ReserveStock",grpc_type="unary",grpc_code="OK",service="product"} ${count}`,
      `grpc_server_handling_seconds_count{grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_type="unary",grpc_code="OK",service="product"} 5`,
    ].join("\n");
  const times = timesBetween(parseHandlingTimes(page(10, 1)), parseHandlingTimes(page(110, 46)));
  assert.deepEqual(times, { "InventoryService/ReserveStock": { calls: 100, meanMs: 450 } });
});

Deno.test("vegeta targets carry the body in base64, and page tokens decode to their cursor", () => {
  const line = JSON.parse(
    vegetaTargetLine({ method: "POST", url: "https://x/v1/orders", body: '{"a":"é"}' }),
  );
  assert.equal(
    new TextDecoder().decode(Uint8Array.from(atob(line.body), (c) => c.charCodeAt(0))),
    '{"a":"é"}',
  );
  const token = btoa(JSON.stringify({ t: 5, id: "p", f: "abc" })).replaceAll("=", "");
  assert.deepEqual(decodeCursor(token), { t: 5, id: "p", f: "abc" });
});

Deno.test("orders that came back FAILED count as errors and not as throughput", () => {
  const summary = { requests: 20, throughput: 2, p50Ms: 10, p99Ms: 20, errors: 0, errorKinds: {} };
  const counted = withFailures(summary, { ORDER_STATUS_FAILED: 15 });
  assert.equal(counted.errors, 15);
  assert.equal(counted.throughput, 0.5);
  assert.equal(counted.errorKinds.ORDER_STATUS_FAILED, 15);
  assert.equal(withFailures(summary, {}), summary);
});

Deno.test("PSS and its anonymous part come from smaps_rollup, 0 when absent", () => {
  const rollup =
    "55d0a0000000-7ffd1c3f6000 ---p 00000000 00:00 0 [rollup]\nRss:  204800 kB\nPss:  51234 kB\nPss_Anon:  40000 kB\n";
  assert.equal(pssKiB(rollup), 51234);
  assert.equal(pssKiB(rollup, "Pss_Anon"), 40000);
  assert.equal(pssKiB(""), 0);
});

Deno.test("every process of the dev stack gets a name a reader knows", () => {
  const argv = (...args: string[]) => args.join("\0") + "\0";
  assert.equal(anyNameOf(argv("/usr/bin/deno", "run", "-A", "/repo/services/order/main.ts")), "order");
  assert.equal(anyNameOf(argv("/tools/envoy-1.40.0/bin/envoy", "-c", "x.json")), "envoy");
  assert.equal(
    anyNameOf(argv("/usr/bin/deno", "run", "-A", "/repo/observability/ship_file.ts")),
    "ship_file.ts",
  );
  assert.equal(anyNameOf(argv("/usr/bin/deno", "task", "dev")), "deno task dev");
  assert.equal(
    anyNameOf(argv("node", "/usr/lib/node_modules/npm/bin/npx-cli.js", "-y", "deno@2.9.6")),
    "npm exec",
  );
  assert.equal(anyNameOf(argv("/tools/victoria-logs-1.52.1/bin/victoria-logs", "-x")), "victoria-logs");
  assert.equal(anyNameOf(argv("postgres: postgres shop_order 127.0.0.1(36270) idle")), "postgres");
  assert.equal(anyNameOf(argv("/usr/bin/redis-server 127.0.0.1:6380")), "redis-server");
});

Deno.test("the dev stack's memory table sums PSS and puts tracing on its own line", () => {
  const table = devMemoryTable([
    { name: "postgres", processes: 8, pssMiB: 80.5, rssMiB: 210 },
    { name: "jaeger", processes: 1, pssMiB: 40, rssMiB: 60 },
    { name: "order", processes: 1, pssMiB: 50.2, rssMiB: 130 },
  ]);
  assert.match(table, /\| total +\| 10 +\| 171 +\| 400 +\|/);
  assert.match(table, /\| total without tracing \(jaeger\) +\| 9 +\| 131 +\| 340 +\|/);
});

Deno.test("the dev stack's memory table shows the anonymous part of the PSS when every part has it", () => {
  const table = devMemoryTable([
    { name: "envoy", processes: 1, pssMiB: 70.2, pssAnonMiB: 18.2, rssMiB: 72 },
    { name: "order", processes: 1, pssMiB: 50.2, pssAnonMiB: 45.5, rssMiB: 130 },
  ]);
  assert.match(table, /of it anonymous/);
  assert.match(table, /\| envoy +\| 1 +\| 70\.2 +\| 18\.2 +\| 72 +\|/);
  assert.match(table, /\| total +\| 2 +\| 120 +\| 64 +\| 202 +\|/);
});
