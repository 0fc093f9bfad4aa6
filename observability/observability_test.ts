// deno-lint-ignore-file no-console -- the test reports what it measures (p99 with the log store up and down, alert delay)
/**
 * Observability end to end, on the whole system (e2e/stack.ts: the four services, the edge bridge and
 * Envoy on free ports) plus the observability servers of this folder on free ports: VictoriaLogs (every
 * service ships its lines there, Envoy's access log through the tailer), the targets writer following
 * the stack's registry, Alertmanager, and Prometheus scraping every second with its own client
 * certificate and the real rules (every `for:` shortened to 5 s).
 *
 * One stack for every step, in order: starting it is the expensive part (2 shared cores).
 */
import assert from "node:assert/strict";
import { delay, eventually, freePort, isRunning, ProcessGroup } from "@shop/platform/testing";
import { createBulkShipper } from "@shop/platform/log";
import { stackServices, startStack } from "../e2e/stack.ts";
import { ok, restClient } from "../e2e/rest.ts";
import { startTargetsWriter } from "./prometheus_targets.ts";
import {
  prometheusConfig,
  ruleFiles,
  startAlertmanager,
  startPrometheus,
  startVictoriaLogs,
} from "./servers.ts";
import { tailToShipper } from "./ship_file.ts";

const forDuration = "5s";
const scrapeInterval = "1s";

interface ActiveTarget {
  labels: Record<string, string>;
  scrapePool: string;
  health: string;
  lastError: string;
}

async function activeTargets(prometheusUrl: string): Promise<ActiveTarget[]> {
  const body = await (await fetch(`${prometheusUrl}/api/v1/targets?state=active`)).json() as {
    data: { activeTargets: ActiveTarget[] };
  };
  return body.data.activeTargets;
}

/** Every line of the log store that matches a LogsQL query. */
async function queryLogs(logsUrl: string, query: string): Promise<Array<Record<string, string>>> {
  const response = await fetch(`${logsUrl}/select/logsql/query?${new URLSearchParams({ query })}`);
  const text = await response.text();
  assert.ok(response.ok, text);
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

Deno.test("observability: targets from etcd, alerts, one request id across the logs, no secrets, a dead log store", async (t) => {
  const group = await ProcessGroup.create();
  const dir = await Deno.makeTempDir({ prefix: "shop-observability-" });
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  try {
    const logsPort = freePort();
    const logs = await startVictoriaLogs(group, { port: logsPort, dataDir: `${dir}/logs` });
    const shipEnv = { SHOP_LOG_SHIP_URL: logs.bulkUrl };

    // A lease of 20 s: a SIGKILLed instance stays registered (so scraped, and down) longer than the alert needs.
    const stack = await startStack({
      label: "observability",
      discoveryTtlMs: 20_000,
      env: Object.fromEntries(stackServices.map((service) => [service, shipEnv])),
    });
    cleanups.push(() => stack[Symbol.asyncDispose]());

    // Envoy's access log, shipped by the tailer from the file its stdout goes to.
    const envoyShipper = createBulkShipper({ url: logs.bulkUrl, flushInterval: 250 });
    const tailing = new AbortController();
    const tailer = tailToShipper(envoyShipper, {
      file: stack.gateway.envoy.process.logFile,
      service: "envoy",
      instance: "envoy-1",
    }, tailing.signal);
    cleanups.push(async () => {
      tailing.abort();
      await tailer;
      await envoyShipper.close();
    });

    const targetsFile = `${dir}/prometheus/targets.json`;
    const writer = await startTargetsWriter({
      etcd: [stack.discovery.etcdUrl],
      prefix: stack.discovery.prefix,
      out: targetsFile,
      certsDir: stack.certsDir,
    });
    cleanups.push(() => writer.close());

    const alertmanager = await startAlertmanager(group, { port: freePort(), dataDir: `${dir}/alertmanager` });
    const rulesDir = `${dir}/rules`;
    await Deno.mkdir(rulesDir);
    const testRules: string[] = [];
    for (const file of ruleFiles) {
      const path = `${rulesDir}/${file.slice(file.lastIndexOf("/") + 1)}`;
      await Deno.writeTextFile(
        path,
        (await Deno.readTextFile(file)).replaceAll(/for: \S+/g, `for: ${forDuration}`),
      );
      testRules.push(path);
    }
    const prometheus = await startPrometheus(group, {
      port: freePort(),
      dataDir: `${dir}/prometheus`,
      config: prometheusConfig({
        scrapeInterval,
        targetsFile,
        certsDir: stack.certsDir,
        envoyTargets: [new URL(stack.adminUrl).host],
        alertmanagers: [new URL(alertmanager.url).host],
        ruleFiles: testRules,
      }),
    });

    await t.step("every instance registered in etcd is a target, and up over mTLS; so is Envoy", async () => {
      const targets = await eventually("4 services and Envoy up in Prometheus", async () => {
        const active = await activeTargets(prometheus.url);
        const shop = active.filter((target) => target.scrapePool === "shop");
        const services = new Set(
          shop.filter((target) => target.health === "up").map((t) => t.labels.service),
        );
        const envoyUp = active.some((target) => target.scrapePool === "envoy" && target.health === "up");
        // The gateway's services, and the internal notification service (registered like them).
        return services.size === stackServices.length + 1 && envoyUp && shop.every((t) => t.health === "up")
          ? active
          : undefined;
      }, { timeoutMs: 30_000, intervalMs: 250 });
      const ports = targets.filter((t) => t.scrapePool === "shop").map((t) => t.labels.instance).sort();
      const expected = stackServices
        .flatMap((service) => stack.instances(service).map((instance) => `127.0.0.1:${instance.port}`))
        .concat(`127.0.0.1:${new URL(stack.notificationUrl).port}`)
        .sort();
      assert.deepEqual(ports, expected);
    });

    let extra: Awaited<ReturnType<typeof stack.startInstance>> | undefined;
    await t.step("a new instance is scraped without editing any file", async () => {
      extra = await stack.startInstance("product");
      const address = `127.0.0.1:${extra.port}`;
      const target = await eventually(
        `${address} up in Prometheus`,
        async () =>
          (await activeTargets(prometheus.url)).find((t) =>
            t.labels.instance === address && t.health === "up"
          ),
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      assert.equal(target.labels.service, "product");
      // The stack's name for it, which a restart keeps (so its series continue).
      assert.equal(target.labels.instance_id, extra.name);
    });

    const rest = restClient(stack);
    const email = `obs-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const password = `Sekrit-${crypto.randomUUID()}`;
    const requestId = `obs-checkout-${crypto.randomUUID()}`;
    let accessToken = "";
    let refreshToken = "";

    await t.step(
      "one checkout's request id finds its lines in the log store from Envoy, order, product and payment",
      async () => {
        ok(await rest("POST", "/v1/users:register", { body: { email, password, displayName: "Obs" } }));
        const tokens = ok<{ accessToken: string; refreshToken: string }>(
          await rest("POST", "/v1/auth:login", { body: { email, password } }),
        );
        accessToken = tokens.accessToken;
        refreshToken = tokens.refreshToken;
        // A wrong password, for the login-failure counter.
        assert.equal(
          (await rest("POST", "/v1/auth:login", { body: { email, password: "wrong one" } })).status,
          401,
        );
        const { products } = ok<{ products: Array<{ id: string; stock: number }> }>(
          await rest("GET", "/v1/products?pageSize=20"),
        );
        const product = products.find((p) => p.stock > 5);
        assert.ok(product, "the demo catalog has a product in stock");
        const reply = await rest("POST", "/v1/orders", {
          token: accessToken,
          headers: { "x-request-id": requestId },
          body: {
            requestId: crypto.randomUUID(),
            items: [{ productId: product.id, quantity: 1 }],
            shippingAddress: {
              name: "Ada Lovelace",
              line1: "12 St James's Square",
              line2: "",
              city: "London",
              postalCode: "SW1Y 4JH",
              country: "GB",
            },
            paymentMethod: "pm_card_visa",
          },
        });
        assert.equal((ok<{ order: { status: string } }>(reply)).order.status, "ORDER_STATUS_PAID");
        assert.equal(reply.headers.get("x-request-id"), requestId);

        const lines = await eventually("lines of 4 services for the request id", async () => {
          const found = await queryLogs(logs.url, `request_id:="${requestId}"`);
          const services = new Set(found.map((line) => line.service));
          return ["envoy", "order", "product", "payment"].every((s) => services.has(s)) ? found : undefined;
        }, { timeoutMs: 20_000, intervalMs: 250 });
        for (const line of lines) assert.equal(line.request_id, requestId);
        const rpcs = lines.filter((line) => line.logger === "shop.rpc").map((line) =>
          `${line.service} ${line.rpc}`
        );
        assert.ok(rpcs.includes("order shop.order.v1.OrderService/CreateOrder"), rpcs.join(", "));
        assert.ok(
          rpcs.some((rpc) => rpc.startsWith("product shop.product.v1.InventoryService/")),
          rpcs.join(", "),
        );
        assert.ok(rpcs.some((rpc) => rpc.startsWith("payment shop.payment.v1.")), rpcs.join(", "));
      },
    );

    await t.step("business counters count the checkout, the login failure and the tokens", async () => {
      const query = async (expr: string) => {
        const body =
          await (await fetch(`${prometheus.url}/api/v1/query?${new URLSearchParams({ query: expr })}`))
            .json() as { data: { result: Array<{ value: [number, string] }> } };
        return Number(body.data.result[0]?.value[1] ?? "0");
      };
      await eventually("the counters in Prometheus", async () => {
        const paid = await query('sum(shop_orders_total{outcome="paid"})');
        const charged = await query('sum(shop_payments_total{outcome="succeeded"})');
        const failures = await query('sum(shop_login_failures_total{reason="invalid_credentials"})');
        const tokens = await query('sum(shop_tokens_issued_total{kind="access"})');
        const db = await query('sum(shop_db_operation_seconds_count{service="order"})');
        return paid >= 1 && charged >= 1 && failures >= 1 && tokens >= 1 && db > 0 ? true : undefined;
      }, { timeoutMs: 15_000, intervalMs: 250 });
    });

    await t.step(
      "every Grafana panel's query runs on this Prometheus, and the main ones have data",
      async () => {
        const dashboardsDir = new URL("./grafana/dashboards/", import.meta.url);
        const empty: string[] = [];
        for await (const entry of Deno.readDir(dashboardsDir)) {
          const dashboard = JSON.parse(await Deno.readTextFile(new URL(entry.name, dashboardsDir))) as {
            panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
          };
          for (const panel of dashboard.panels) {
            for (const { expr } of panel.targets ?? []) {
              const query = expr.replaceAll("$service", ".+").replaceAll("$__rate_interval", "1m");
              const response = await fetch(
                `${prometheus.url}/api/v1/query?${new URLSearchParams({ query })}`,
              );
              const body = await response.json() as {
                status: string;
                error?: string;
                data?: { result: unknown[] };
              };
              assert.equal(
                body.status,
                "success",
                `${entry.name} "${panel.title}": ${body.error} in ${query}`,
              );
              if ((body.data?.result.length ?? 0) === 0) empty.push(`${entry.name}: ${panel.title}`);
            }
          }
        }
        console.log(
          `panels without data yet (a young stack: no declines, no conflicts...): ${
            empty.join("; ") || "none"
          }`,
        );
        for (
          const main of [
            "Request rate",
            "Requests by status class",
            "Orders by outcome",
            "Healthy hosts by cluster",
          ]
        ) {
          assert.ok(!empty.some((panel) => panel.endsWith(`: ${main}`)), `"${main}" has no data`);
        }
      },
    );

    await t.step("no password, token or e-mail address in any log line or metric label", async () => {
      // What the services wrote to stdout, what reached the store, and every series Prometheus holds.
      const stdout = stackServices
        .flatMap((service) => stack.instances(service))
        .flatMap((instance) => instance.process.logs)
        .map((line) => JSON.stringify(line)).join("\n");
      assert.ok(stdout.includes(requestId), "the collected stdout has the checkout's lines");
      await delay(1_500); // the last shipping interval
      const stored = (await queryLogs(logs.url, "*")).map((line) => JSON.stringify(line)).join("\n");
      assert.ok(stored.includes(requestId), "the store has the checkout's lines");
      const series = await (await fetch(
        `${prometheus.url}/api/v1/series?${new URLSearchParams({ "match[]": '{job=~"shop|envoy"}' })}`,
      )).text();
      const envoyLog = await Deno.readTextFile(stack.gateway.envoy.process.logFile);
      for (
        const [where, text] of [["stdout", stdout], ["the log store", stored], ["metric labels", series], [
          "Envoy's access log",
          envoyLog,
        ]]
      ) {
        for (
          const [what, secret] of [
            ["the password", password],
            ["the access token", accessToken],
            ["the refresh token", refreshToken],
            ["the e-mail address", email],
            ["the wrong password", "wrong one"],
          ]
        ) {
          assert.ok(secret && !text?.includes(secret), `${what} appears in ${where}`);
        }
      }
    });

    await t.step("a killed instance's InstanceDown alert reaches Alertmanager", async () => {
      assert.ok(extra);
      const address = `127.0.0.1:${extra.port}`;
      const killed = Date.now();
      await extra.kill(); // SIGKILL: it stays registered until its 20 s lease ends
      const alert = await eventually("InstanceDown in Alertmanager", async () => {
        const alerts = await (await fetch(`${alertmanager.url}/api/v2/alerts`)).json() as Array<
          { labels: Record<string, string>; status: { state: string } }
        >;
        return alerts.find((a) => a.labels.alertname === "InstanceDown" && a.labels.instance === address);
      }, { timeoutMs: 19_000, intervalMs: 250 });
      const seconds = (Date.now() - killed) / 1000;
      console.log(
        `InstanceDown for ${address} in Alertmanager ${seconds.toFixed(1)} s after SIGKILL ` +
          `(for: ${forDuration}, scrape and evaluation every ${scrapeInterval})`,
      );
      assert.equal(alert.labels.service, "product");
      assert.equal(alert.labels.severity, "critical");
    });

    await t.step(
      "a dead or hanging log store neither breaks nor slows request handling (p99 reported)",
      async () => {
        const client = stack.client();
        // At least `count` requests over at least `minMs`: the shipper tries the store once a second, so a
        // phase must outlast a few of its attempts whatever the requests cost.
        const measure = async (
          count: number,
          minMs = 0,
        ): Promise<{ p50: number; p99: number; failed: number; count: number }> => {
          const times: number[] = [];
          let failed = 0;
          const until = performance.now() + minMs;
          for (let i = 0; i < count || performance.now() < until; i++) {
            const start = performance.now();
            const response = await fetch(`${stack.url}/v1/products?pageSize=5`, { client });
            await response.body?.cancel();
            times.push(performance.now() - start);
            if (response.status !== 200) failed++;
          }
          return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), failed, count: times.length };
        };
        await measure(20); // warm-up
        const up = await measure(200);
        Deno.kill(logs.process.pid, "SIGKILL");
        await eventually("the log store is gone", () => !isRunning(logs.process.pid));
        const down = await measure(200, 3_000);
        // A store that accepts connections and never answers: every POST runs into its timeout.
        const blackhole = Deno.listen({ hostname: "127.0.0.1", port: logsPort });
        const held: Deno.Conn[] = [];
        const accepting = (async () => {
          for await (const conn of blackhole) held.push(conn);
        })();
        const hanging = await measure(200, 3_000);
        const product = stack.instances("product")[0];
        assert.ok(product);
        await eventually(
          "the product service reports the log store as not answering",
          () => product.process.logs.some((line) => String(line.message).includes("is not answering")),
          { timeoutMs: 20_000 },
        );
        blackhole.close();
        held.forEach((conn) => conn.close());
        await accepting.catch(() => {});
        const format = (name: string, r: { p50: number; p99: number; failed: number; count: number }) =>
          `${name.padEnd(24)} p50 ${r.p50.toFixed(1)} ms  p99 ${
            r.p99.toFixed(1)
          } ms  failed ${r.failed}/${r.count}`;
        console.log(
          [
            "GET /v1/products through Envoy (product service ships every line):",
            format("log store up", up),
            format("log store killed", down),
            format("log store hanging", hanging),
          ].join("\n"),
        );
        assert.equal(up.failed + down.failed + hanging.failed, 0);
        // The services still run and log to stdout.
        for (const service of stackServices) {
          for (const instance of stack.instances(service)) {
            assert.equal(instance.process.child.pid > 0, true);
          }
        }
      },
    );
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Keep cleaning up.
      }
    }
    await group.stop(5_000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
