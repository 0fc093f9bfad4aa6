import assert from "node:assert/strict";
import { registerInstance } from "@shop/platform/discovery";
import { etcdForTests, eventually, freePort, stripeMockForTests } from "@shop/platform/testing";
import { upstreamServices } from "../envoy/gateway_config.ts";

const script = new URL("./plumbing.ts", import.meta.url).pathname;

Deno.test("the plumbing process runs the simulator, the edge bridge, the log shipper and the target writer together, and stops on SIGTERM", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "plumbing" });
  const etcd = await etcdForTests();
  const prefix = `${ns.prefix}services`;
  const stripeMock = await stripeMockForTests();
  const dir = await Deno.makeTempDir({ prefix: "shop-plumbing-" });
  // A log store that keeps every document shipped to its bulk endpoint.
  const shipped: string[] = [];
  await using store = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (request) => {
    shipped.push(...(await request.text()).split("\n").filter((line) => line.includes('"service"')));
    return Response.json({ errors: false, items: [] });
  });
  const simulatorPort = freePort();
  const envoyLog = `${dir}/envoy.log`;
  const registered = await registerInstance({
    url: "https://127.0.0.1:50152",
    onShutdown: () => {},
  }, { etcd: ns.root, service: "product", prefix });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script],
    env: {
      SHOP_PLUMBING_PROGRAMS: "stripe-simulator,edge,envoy-log-shipper,prometheus-targets",
      SHOP_STRIPE_SIMULATOR_SERVER_PORT: String(simulatorPort),
      SHOP_STRIPE_SIMULATOR_UPSTREAM_URL: stripeMock.url,
      SHOP_EDGE_ENDPOINTS_DIR: `${dir}/endpoints`,
      SHOP_EDGE_ETCD_URL: etcd.url,
      SHOP_EDGE_ETCD_CERTS_DIR: etcd.certsDir,
      SHOP_EDGE_ETCD_PREFIX: prefix,
      SHOP_SHIP_FILE_FILE: envoyLog,
      SHOP_TARGETS_OUT: `${dir}/targets.json`,
      SHOP_ETCD_ENDPOINTS: etcd.url,
      SHOP_TARGETS_CERTS_DIR: etcd.certsDir,
      SHOP_TARGETS_PREFIX: prefix,
      SHOP_LOG_SHIP_URL: `http://127.0.0.1:${store.addr.port}/_bulk`,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  try {
    // The simulator answers Stripe's API through stripe-mock.
    const state = await eventually("the simulator answers", async () => {
      const response = await fetch(`http://127.0.0.1:${simulatorPort}/_simulator/state`).catch(() =>
        undefined
      );
      return response?.status === 200 && await response.json();
    }, { timeoutMs: 30_000 });
    assert.ok(typeof state === "object");
    // The edge bridge writes an endpoint file per upstream, with the registered instance in its own.
    const product = await eventually("the product endpoint file names the instance", async () => {
      const text = await Deno.readTextFile(`${dir}/endpoints/product.json`).catch(() => "");
      return text.includes("50152") && text;
    }, { timeoutMs: 30_000 });
    assert.match(product, /"port_value": ?50152/);
    for (const service of upstreamServices) await Deno.stat(`${dir}/endpoints/${service}.json`);
    // Prometheus' targets follow the registry.
    const targets = await eventually("the targets file lists the instance", async () => {
      const text = await Deno.readTextFile(`${dir}/targets.json`).catch(() => "");
      return text.includes("127.0.0.1:50152") && JSON.parse(text);
    }, { timeoutMs: 30_000 });
    assert.equal(targets[0].labels.service, "product");
    // A JSON line appended to Envoy's log reaches the log store as an `envoy` document.
    await Deno.writeTextFile(
      envoyLog,
      `${JSON.stringify({ method: "GET", path: "/v1/x?q=1", status: 200 })}\n`,
      {
        append: true,
      },
    );
    const line = await eventually("the access log line is shipped", () => {
      return shipped.find((document) => document.includes('"service":"envoy"')) ?? false;
    }, { timeoutMs: 30_000 });
    assert.equal(JSON.parse(line).path, "/v1/x");
    child.kill("SIGTERM");
    const status = await child.status;
    const [stdout, stderr] = await output;
    assert.equal(status.code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
    assert.match(stdout, /"service":"plumbing"/);
  } catch (error) {
    // What the process said is what tells why.
    try {
      child.kill("SIGKILL");
    } catch {
      // Already stopped.
    }
    const [stdout, stderr] = await output;
    throw new Error(
      `${error instanceof Error ? error.message : error}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
    );
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already stopped.
    }
    await child.status;
    await output;
    await registered.deregister();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the plumbing process refuses to start without known programs to run", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script],
    env: { SHOP_PLUMBING_PROGRAMS: "edge,mail-sorter" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /unknown: mail-sorter/);
});
